/* Laying out a poem: rows of characters with their punctuation, the checker's tone marks as
   ruby, rhyme characters and broken rules marked, lines as lock toggles where asked. */

// Full-width and ASCII marks that end or split a line; everything else is a character.
const PUNCTUATION = new Set(Array.from("，。、？！；：,.?!;:·…「」『』“”‘’（）() \n\r\t　"));

/** A poem's text as rows (one per line: each mark ends one) of characters, and per row the
    marks after each character: ``{rows, marks}``. The stream numbers its lines the same way. */
export function textRows(text) {
  const rows = [];
  const marks = [];
  let open = false;  // whether the last row is still being filled
  for (const c of Array.from(text || "")) {
    if (PUNCTUATION.has(c)) {
      if (rows.length && c.trim()) marks[marks.length - 1][marks[marks.length - 1].length - 1] += c;
      open = false;
    } else {
      if (!open) {
        rows.push([]);
        marks.push([]);
        open = true;
      }
      rows[rows.length - 1].push(c);
      marks[marks.length - 1].push("");
    }
  }
  return { rows, marks };
}

/** Per character of the checked poem, in reading order: {tone, rhyme, fault}. */
export function checkNotes(check) {
  const lines = (check && check.lines) || [];
  const starts = [];
  const notes = [];
  for (const line of lines) {
    starts.push(notes.length);
    const tones = Array.from(line.tones || "");
    Array.from(line.text || "").forEach((_, i) => notes.push({ tone: tones[i] || "", rhyme: "", fault: "" }));
  }
  const lineEnd = (number) => {
    const index = number - 1;
    return index >= 0 && index < lines.length ? starts[index] + Array.from(lines[index].text || "").length - 1 : -1;
  };
  for (const rhyme of (check && check.rhymes) || []) {
    const at = lineEnd(rhyme.line);
    if (notes[at]) notes[at].rhyme = "韵";
  }
  for (const set of (check && check.rhyme_sets) || []) {
    for (const number of set.lines || []) {
      const at = lineEnd(number);
      if (notes[at]) notes[at].rhyme = set.set || "韵";
    }
  }
  for (const violation of (check && check.violations) || []) {
    const index = (violation.line || 0) - 1;
    if (index < 0 || index >= lines.length || !violation.position) continue;
    const note = notes[starts[index] + violation.position - 1];
    if (note) note.fault = [note.fault, violation.message].filter(Boolean).join("\n");
  }
  return notes;
}

/** Split ``flat`` (one entry per character of the poem) into rows of ``rows``' lengths. */
export function byRows(rows, flat, blank) {
  let at = 0;
  return rows.map((row) => row.map(() => (at < flat.length ? flat[at++] : blank)));
}

/** One character as a ruby (the tone mark is its annotation) with its rhyme and faults. */
function characterElement(char, note) {
  const ruby = document.createElement("ruby");
  ruby.className = "ch";
  ruby.append(char || "　");
  if (note && note.tone) {
    ruby.dataset.tone = note.tone;
    const mark = document.createElement("rt");
    mark.textContent = note.tone;
    ruby.append(mark);
  }
  if (note && note.rhyme) {
    ruby.classList.add("rhyme");
    ruby.dataset.rhyme = note.rhyme;
    ruby.title = `韵脚 rhyme${note.rhyme === "韵" ? "" : ` ${note.rhyme}`}`;
  }
  if (note && note.fault) {
    ruby.classList.add("fault");
    ruby.title = note.fault;
  }
  return ruby;
}

/** Fill ``container`` with one ``.poem-line`` per row; ``lockable`` rows are toggle buttons. */
export function renderRows(container, rows, marks, notes, { lockable = false, locked = new Set() } = {}) {
  const lines = rows.map((row, i) => {
    const line = document.createElement(lockable ? "button" : "div");
    line.className = "poem-line";
    line.dataset.line = String(i);
    line.dataset.text = row.map((c) => c || "").join("");
    row.forEach((char, j) => {
      line.append(characterElement(char, notes[i] && notes[i][j]));
      const mark = marks[i] && marks[i][j];
      if (mark) {
        const span = document.createElement("span");
        span.className = "mark";
        span.textContent = mark;
        line.append(span);
      }
    });
    line.classList.toggle("locked", locked.has(i));
    if (lockable) {
      line.type = "button";
      line.setAttribute("aria-pressed", locked.has(i) ? "true" : "false");
      line.title = locked.has(i) ? "已锁定，点击解锁 Locked: click to unlock" : "点击锁定 Click to lock this line";
      const badge = document.createElement("span");
      badge.className = "lock-badge";
      badge.textContent = "锁";
      badge.setAttribute("aria-hidden", "true");
      line.append(badge);
    }
    return line;
  });
  container.replaceChildren(...lines);
}
