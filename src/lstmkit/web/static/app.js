/* The page: fill the controls from the API, stream a poem character by character from
   POST /api/poems/stream, show it with its tone marks and rhymes, lock lines and rewrite the
   others, copy; tabs between Write and Check (check.js). ES modules, no build step. */

import { ApiError, FIELD_LABELS, api, messagesOf, readEvents } from "./api.js";
import { setUpCheck } from "./check.js";
import { $, option, optionalText, showError } from "./dom.js";
import { byRows, checkNotes, renderRows, textRows } from "./poem.js";

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
    title: optionalText("#title"),
    theme: optionalText("#theme"),
    poet: optionalText("#poet"),
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

async function loadChoices() {
  try {
    const { models } = await (await api("/api/models")).json();
    const forms = [...new Set(models.flatMap((model) => model.forms || []))];
    $("#form").replaceChildren(...forms.map((form) => option(form, FORM_LABELS[form] || form)));
    const { tunes } = await (await api("/api/tunes")).json();
    $("#tune").replaceChildren(...tunes.map((tune) => option(tune.name, tune.name)));
    $("#tune-names").replaceChildren(...tunes.map((tune) => option(tune.name, tune.name)));
    const poets = [...new Set(models.flatMap((model) => model.poets || []))];
    $("#poet-names").replaceChildren(...poets.map((poet) => option(poet, poet)));
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
  setUpCheck();
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    tab.addEventListener("click", () => selectTab(tab));
    tab.addEventListener("keydown", onTabKey);
  }
  setView();
  loadChoices();
}

start();
