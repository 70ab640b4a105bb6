/* The Check tab: send a pasted poem to POST /api/check and show the pattern, the tone of
   each character, rhymes, violations, notes and the checker's plain-text report. */

import { FIELD_LABELS, api, messagesOf } from "./api.js";
import { $, optionalText, showError } from "./dom.js";
import { byRows, checkNotes, renderRows } from "./poem.js";

/** A <dl> of the ``[term, value]`` pairs that have a value. */
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

/** A titled list of ``items`` (sentences), or null for none. */
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

/** Show a POST /api/check answer: summary, the poem with its marks, the lists, the report. */
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

/** Check the pasted poem with the chosen form or tune and tone rules. */
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

/** Wire the Check tab's controls. */
export function setUpCheck() {
  $("#check-form-name").addEventListener("change", () => {
    $("#check-tune-field").hidden = $("#check-form-name").value !== "ci";
  });
  $("#check-form").addEventListener("submit", runCheck);
}
