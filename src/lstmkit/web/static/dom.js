/* Small DOM helpers shared by the page's scripts. */

export const $ = (selector) => document.querySelector(selector);

/** The text of a field, or null for an empty one. */
export function optionalText(id) {
  const value = $(id).value.trim();
  return value === "" ? null : value;
}

/** Show ``messages`` (a list of sentences) in an error box, or hide it for none. */
export function showError(box, messages) {
  box.replaceChildren(...messages.map((message) => {
    const line = document.createElement("p");
    line.textContent = message;
    return line;
  }));
  box.hidden = messages.length === 0;
}

/** An <option> for a select or datalist. */
export function option(value, label) {
  const element = document.createElement("option");
  element.value = value;
  element.textContent = label;
  return element;
}
