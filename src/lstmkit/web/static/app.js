/* The page's behaviour: fill the controls from the API, stream a poem character by character
   from POST /api/poems/stream, lay it out with its tone marks and rhymes, lock lines and
   rewrite the others, copy, and the Check tab (POST /api/check). No framework, no build. */
"use strict";

const $ = (selector) => document.querySelector(selector);

// Full-width and ASCII marks that end or split a line; everything else is a character.
const PUNCTUATION = new Set(Array.from("，。、？！；：,.?!;:·…「」『』“”‘’（）() \n\r\t　"));

// The words each request field is shown with in an error message.
const FIELD_LABELS = {
  form: "体裁 form", tune: "词牌 tune", acrostic: "藏头 acrostic", start: "首句 opening line",
  template: "格式 template", temperature: "温度 temperature", seed: "种子 seed",
  script: "字形 script", lines: "锁定的句 locked lines", n: "数量 n", top_k: "top_k",
  top_p: "top_p", rhyme: "韵 rhyme", text: "诗 poem", tones: "平仄 tones",
};

const FORM_LABELS = { ci: "词 Ci" };

const write = {
  rows: [],           // the poem's lines, each an array of characters in the shown script
  marks: [],          // per row, the punctuation after each character ("" for none)
  notes: [],          // per row, per character: {tone, rhyme, fault} from the checker
  text: "",           // the finished poem as the server wrote it
  form: null,         // the form and tune the shown poem was written in
  tune: null,
  locked: new Set(),  // indices of the locked rows
  busy: false,
};

/* ---------- errors ---------- */

/** A field's place in a 422 ``loc`` in words: ``["body", "lines", 2]`` -> "锁定的句 locked lines [3]". */
function fieldName(loc) {
  const parts = (loc || []).filter((part) => part !== "body");
  if (!parts.length) return "请求 request";
  const [field, ...rest] = parts;
  const label = FIELD_LABELS[field] || String(field);
  return rest.length ? `${label} ${rest.map((p) => (typeof p === "number" ? `[${p + 1}]` : p)).join(" ")}` : label;
}

/** The sentences to show for a failed response: one per problem the server named. */
function errorMessages(status, statusText, body) {
  const detail = body && body.detail;
  if (Array.isArray(detail)) {
    return detail.map((item) => `${fieldName(item.loc)}: ${item.msg || "invalid value"}`);
  }
  const said = typeof detail === "string" ? detail : "";
  if (status === 413) return [`请求太大 Request too large${said ? `: ${said}` : ""}`];
  if (status === 503) return [`超时 The server ran out of time${said ? `: ${said}` : ""}`];
  if (said) return [said];
  return [`服务器错误 Server error ${status}${statusText ? ` ${statusText}` : ""}`];
}

/** Show ``messages`` (a list of sentences) in an error box, or hide it for none. */
function showError(box, messages) {
  box.replaceChildren(...messages.map((message) => {
    const line = document.createElement("p");
    line.textContent = message;
    return line;
  }));
  box.hidden = messages.length === 0;
}

/** An error thrown by ``api`` that already carries the sentences to show. */
class ApiError extends Error {
  constructor(messages) {
    super(messages.join("; "));
    this.messages = messages;
  }
}

function messagesOf(error) {
  if (error instanceof ApiError) return error.messages;
  if (error instanceof TypeError) return [`无法连接服务器 Cannot reach the server: ${error.message}`];
  return [`出错了 Something went wrong: ${error.message}`];
}

/** The response to a request, or an ApiError that says in words what went wrong. */
async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  if (response.ok) return response;
  let parsed = null;
  try {
    parsed = await response.json();
  } catch {
    // not JSON: the status line alone says what happened
  }
  throw new ApiError(errorMessages(response.status, response.statusText, parsed));
}

/* ---------- server-sent events over fetch (EventSource cannot POST) ---------- */

/** Call ``onEvent(name, data)`` for each event of a text/event-stream response body. */
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let name = "message";
  let data = [];
  const dispatch = () => {
    if (data.length) onEvent(name, data.join("\n"));
    name = "message";
    data = [];
  };
  const takeLine = (line) => {
    if (line === "") return dispatch();
    if (line.startsWith(":")) return undefined;  // a comment (keep-alive)
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
    return undefined;
  };
  for (;;) {
    const { value, done } = await reader.read();
    buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
    for (;;) {
      const end = /\r\n|\r|\n/.exec(buffer);
      // A lone \r at the end may be the first half of \r\n: wait for the next chunk.
      if (!end || (end[0] === "\r" && end.index === buffer.length - 1 && !done)) break;
      takeLine(buffer.slice(0, end.index));
      buffer = buffer.slice(end.index + end[0].length);
    }
    if (done) {
      if (buffer) takeLine(buffer);
      dispatch();
      return;
    }
  }
}

/* ---------- laying out a poem ---------- */

/** A poem's text as rows (one per line: each mark ends one) of characters, and per row the
    marks after each character: ``{rows, marks}``. The stream numbers its lines the same way. */
function textRows(text) {
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
function checkNotes(check) {
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
function byRows(rows, flat, blank) {
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
function renderRows(container, rows, marks, notes, { lockable = false, locked = new Set() } = {}) {
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

/* ---------- the Write tab ---------- */

function renderPoem() {
  const poem = $("#poem");
  renderRows(poem, write.rows, write.marks, write.notes, { lockable: !write.busy && write.text !== "", locked: write.locked });
  const ready = !write.busy && write.text !== "";
  $("#regenerate").disabled = !ready || write.form !== $("#form").value || write.tune !== tuneValue();
  $("#copy").disabled = !ready;
}

function tuneValue() {
  return $("#form").value === "ci" ? $("#tune").value || null : null;
}

/** The text of a field, or null for an empty one. */
function optionalText(id) {
  const value = $(id).value.trim();
  return value === "" ? null : value;
}

/** The POST body for the current controls; ``lines`` for a rewrite around locked lines. */
function poemRequest(lines) {
  const problems = [];
  const number = (id, label) => {
    const input = $(id);
    if (input.validity.badInput) problems.push(`${label}: 请输入数字 enter a number`);
    return input.value === "" ? null : Number(input.value);
  };
  const body = {
    form: $("#form").value,
    tune: tuneValue(),
    acrostic: optionalText("#acrostic"),
    start: optionalText("#start"),
    template: optionalText("#template"),
    script: $("#script").value,
    n: 1,
    seed: number("#seed", FIELD_LABELS.seed),
    lines: lines || null,
  };
  const temperature = number("#temperature", FIELD_LABELS.temperature);
  if (temperature !== null) body.temperature = temperature;
  if (problems.length) throw new ApiError(problems);
  return body;
}

/** Empty the unlocked rows (the locked ones stay in view while the others are drawn). */
function clearDraft() {
  write.rows = write.rows.map((row, i) => (write.locked.has(i) ? row : []));
  write.marks = write.rows.map((row, i) => (write.locked.has(i) ? write.marks[i] : []));
  write.notes = [];
}

function onPoemEvent(name, data) {
  const payload = data ? JSON.parse(data) : {};
  if (name === "char") {
    while (write.rows.length <= payload.line) write.rows.push([]);
    write.rows[payload.line][payload.pos] = payload.char;
    renderPoem();
  } else if (name === "restart") {
    clearDraft();
    renderPoem();
  } else if (name === "done") {
    return payload;
  } else if (name === "error") {
    throw new ApiError([payload.detail || "写诗失败 Writing failed"]);
  }
  return null;
}

/** Show the finished poem: the server's text replaces whatever was drawn. */
function finishPoem(result) {
  const { poem, model } = result;
  const check = poem.check || null;
  ({ rows: write.rows, marks: write.marks } = textRows(poem.text));
  write.notes = byRows(write.rows, checkNotes(check), null);
  write.text = poem.text;
  write.locked = new Set([...write.locked].filter((i) => i < write.rows.length));
  $("#poem-meta").textContent = describeCheck(check, model);
}

/** One line about the finished poem: model, form, pattern, rhyme group, verdict. */
function describeCheck(check, model) {
  const parts = [];
  if (model) parts.push(`模型 model ${model}`);
  if (check) {
    if (check.form) parts.push(check.form);
    if (check.pattern) parts.push(check.pattern);
    if (check.rhyme_group) parts.push(`韵 ${check.rhyme_group}`);
    const faults = (check.violations || []).length;
    if (check.ok) parts.push("合律 follows the form");
    else if (faults) parts.push(`${faults} 处不合 rule(s) broken`);
  }
  return parts.join(" · ");
}

/** Write a poem (``lines`` null) or rewrite the unlocked lines, streaming it into view. */
async function writePoem(lines) {
  const box = $("#error");
  let body;
  try {
    body = poemRequest(lines);
  } catch (error) {
    showError(box, messagesOf(error));
    return;
  }
  showError(box, []);
  const before = { ...write, locked: new Set(write.locked) };
  const beforeMeta = $("#poem-meta").textContent;
  write.busy = true;
  write.text = "";
  write.form = body.form;
  write.tune = body.tune;
  if (!lines) write.locked = new Set();
  clearDraft();
  const poem = $("#poem");
  poem.dataset.state = "drawing";
  poem.setAttribute("aria-busy", "true");
  $("#poem-meta").textContent = "";
  $("#copy-status").textContent = "";
  $("#write").disabled = true;
  renderPoem();
  let result = null;
  try {
    const response = await api("/api/poems/stream", body);
    await readEvents(response, (name, data) => {
      result = onPoemEvent(name, data) || result;
    });
    if (!result) throw new ApiError(["连接中断 The stream ended before the poem was finished"]);
    finishPoem(result);
    poem.dataset.state = "done";
  } catch (error) {
    showError(box, messagesOf(error));
    Object.assign(write, before);  // the poem shown before stays, with its locks
    $("#poem-meta").textContent = beforeMeta;
    poem.dataset.state = "error";
  } finally {
    write.busy = false;
    poem.setAttribute("aria-busy", "false");
    $("#write").disabled = false;
    renderPoem();
  }
}

function toggleLock(event) {
  const line = event.target.closest(".poem-line");
  if (!line || write.busy || !write.text) return;
  const index = Number(line.dataset.line);
  if (write.locked.has(index)) write.locked.delete(index);
  else write.locked.add(index);
  renderPoem();
  $(`#poem .poem-line[data-line="${index}"]`).focus();
}

function rewriteUnlocked() {
  const lines = write.rows.map((row, i) => (write.locked.has(i) ? row.join("") : null));
  writePoem(lines);
}

async function copyPoem() {
  const text = write.rows.map((row, i) => row.map((c, j) => c + (write.marks[i][j] || "")).join("")).join("\n");
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
    } else {  // plain http on a LAN address: the older way still works
      const area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "visually-hidden";
      document.body.append(area);
      area.select();
      const copied = document.execCommand("copy");
      area.remove();
      if (!copied) throw new Error("the browser refused");
    }
    $("#copy-status").textContent = "已复制 Copied";
  } catch (error) {
    showError($("#error"), [`复制失败 Could not copy: ${error.message}`]);
  }
}

function onFormChange() {
  $("#tune-field").hidden = $("#form").value !== "ci";
  renderPoem();
}

function setView() {
  const poem = $("#poem");
  poem.classList.toggle("tones-on", $("#show-tones").checked);
  poem.classList.toggle("rhymes-on", $("#show-rhymes").checked);
  poem.classList.toggle("vertical", $("#vertical").checked);
}

/* ---------- the Check tab ---------- */

function definitionList(pairs) {
  const list = document.createElement("dl");
  list.className = "summary";
  for (const [term, value] of pairs) {
    if (value === null || value === undefined || value === "") continue;
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = value;
    dd.dataset.field = term.split(" ").pop().toLowerCase();
    list.append(dt, dd);
  }
  return list;
}

function section(title, className, items) {
  if (!items.length) return null;
  const wrap = document.createElement("section");
  wrap.className = className;
  const heading = document.createElement("h3");
  heading.textContent = title;
  const list = document.createElement("ul");
  list.append(...items.map((text) => {
    const item = document.createElement("li");
    item.textContent = text;
    return item;
  }));
  wrap.append(heading, list);
  return wrap;
}

function renderCheck({ check, report }) {
  const result = $("#check-result");
  const verdict = check.ok ? "合律 follows the form" : `不合 ${(check.violations || []).length} rule(s) broken`;
  const summary = definitionList([
    ["体裁 Form", check.form || "未知 unknown"],
    ["格律 Pattern", check.pattern],
    ["韵部 Rhyme", check.rhyme_group],
    ["结论 Verdict", verdict],
  ]);
  const lines = check.lines || [];
  const poem = document.createElement("div");
  poem.className = "poem tones-on rhymes-on";
  poem.id = "check-poem";
  const rows = lines.map((line) => Array.from(line.text || ""));
  const marks = lines.map((line, i) => rows[i].map((_, j) => (j === rows[i].length - 1 ? line.mark || "" : "")));
  renderRows(poem, rows, marks, byRows(rows, checkNotes(check), null));
  const sets = (check.rhyme_sets || []).map((set) =>
    `${set.set || ""} ${set.tone || ""} ${set.part || ""}: 第 ${(set.lines || []).join("、")} 句 lines ${(set.lines || []).join(", ")}`.trim());
  const violations = (check.violations || []).map((v) =>
    `${v.line ? `第${v.line}句` : ""}${v.position ? `第${v.position}字` : ""} [${v.rule}] ${v.message}`.trim());
  const couplets = (check.couplets || []).map((c) =>
    `第 ${(c.lines || []).join("、")} 句 lines ${(c.lines || []).join("+")}: ${c.parallel ? "对仗 parallel" : "不对仗 not parallel"}${typeof c.score === "number" ? ` (${c.score.toFixed(2)})` : ""}`);
  const parts = [
    summary,
    poem,
    section("韵 Rhyme sets", "rhyme-sets", sets),
    section("不合之处 Violations", "violations", violations),
    section("对仗 Couplets", "couplets", couplets),
    section("附注 Notes", "notes", check.notes || []),
    section("其他词牌 Other tunes of this shape", "other-tunes", (check.other_tunes || []).map(String)),
  ];
  const reportBlock = document.createElement("details");
  reportBlock.className = "report";
  reportBlock.open = true;
  const caption = document.createElement("summary");
  caption.textContent = "报告 Report";
  const pre = document.createElement("pre");
  pre.id = "check-report";
  pre.textContent = report || "";
  reportBlock.append(caption, pre);
  parts.push(reportBlock);
  result.replaceChildren(...parts.filter(Boolean));
}

async function runCheck(event) {
  event.preventDefault();
  const box = $("#check-error");
  const text = $("#check-text").value.trim();
  if (!text) {
    showError(box, [`${FIELD_LABELS.text}: 请先贴上一首诗 paste a poem first`]);
    return;
  }
  const form = $("#check-form-name").value || null;
  const body = {
    text,
    form: form === "ci" ? null : form,
    tune: form === "ci" ? optionalText("#check-tune") : null,
    tones: $("#check-tones").value,
  };
  const button = $("#check-run");
  button.disabled = true;
  try {
    const response = await api("/api/check", body);
    showError(box, []);
    renderCheck(await response.json());
  } catch (error) {
    showError(box, messagesOf(error));
    $("#check-result").replaceChildren();
  } finally {
    button.disabled = false;
  }
}

/* ---------- tabs and start-up ---------- */

function selectTab(tab) {
  for (const each of document.querySelectorAll('[role="tab"]')) {
    const chosen = each === tab;
    each.setAttribute("aria-selected", String(chosen));
    each.tabIndex = chosen ? 0 : -1;
    $(`#${each.getAttribute("aria-controls")}`).hidden = !chosen;
  }
  tab.focus();
}

function onTabKey(event) {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
  if (!step) return;
  selectTab(tabs[(tabs.indexOf(event.target.closest('[role="tab"]')) + step + tabs.length) % tabs.length]);
}

function option(value, label) {
  const element = document.createElement("option");
  element.value = value;
  element.textContent = label;
  return element;
}

async function loadChoices() {
  try {
    const { models } = await (await api("/api/models")).json();
    const forms = [...new Set(models.flatMap((model) => model.forms || []))];
    $("#form").replaceChildren(...forms.map((form) => option(form, FORM_LABELS[form] || form)));
    const { tunes } = await (await api("/api/tunes")).json();
    $("#tune").replaceChildren(...tunes.map((tune) => option(tune.name, tune.name)));
    $("#tune-names").replaceChildren(...tunes.map((tune) => option(tune.name, tune.name)));
    if (!forms.length) showError($("#error"), ["服务器没有可用的模型 The server has no models loaded"]);
  } catch (error) {
    showError($("#error"), messagesOf(error));
  }
  onFormChange();
  document.body.dataset.ready = "true";
}

function start() {
  $("#write-form").addEventListener("submit", (event) => {
    event.preventDefault();
    writePoem(null);
  });
  $("#regenerate").addEventListener("click", rewriteUnlocked);
  $("#copy").addEventListener("click", copyPoem);
  $("#poem").addEventListener("click", toggleLock);
  $("#form").addEventListener("change", onFormChange);
  $("#tune").addEventListener("change", renderPoem);
  for (const id of ["#show-tones", "#show-rhymes", "#vertical"]) $(id).addEventListener("change", setView);
  $("#check-form-name").addEventListener("change", () => {
    $("#check-tune-field").hidden = $("#check-form-name").value !== "ci";
  });
  $("#check-form").addEventListener("submit", runCheck);
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    tab.addEventListener("click", () => selectTab(tab));
    tab.addEventListener("keydown", onTabKey);
  }
  setView();
  loadChoices();
}

start();
