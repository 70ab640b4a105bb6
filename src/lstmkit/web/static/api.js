/* Talking to the JSON API: requests whose failures come back as sentences to show (a 422
   names its field in words), and server-sent events read from a fetch response, since
   EventSource cannot POST. */

// The words each request field is shown with in an error message.
export const FIELD_LABELS = {
  form: "体裁 form", tune: "词牌 tune", acrostic: "藏头 acrostic", start: "首句 opening line",
  template: "格式 template", temperature: "温度 temperature", seed: "种子 seed",
  script: "字形 script", lines: "锁定的句 locked lines", n: "数量 n", top_k: "top_k",
  top_p: "top_p", rhyme: "韵 rhyme", text: "诗 poem", tones: "平仄 tones",
  title: "题目 title", theme: "主题 theme", poet: "诗人 poet",
};

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

/** An error thrown by ``api`` that already carries the sentences to show. */
export class ApiError extends Error {
  constructor(messages) {
    super(messages.join("; "));
    this.messages = messages;
  }
}

export function messagesOf(error) {
  if (error instanceof ApiError) return error.messages;
  if (error instanceof TypeError) return [`无法连接服务器 Cannot reach the server: ${error.message}`];
  return [`出错了 Something went wrong: ${error.message}`];
}

/** The response to a request, or an ApiError that says in words what went wrong. */
export async function api(path, body) {
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

/** Call ``onEvent(name, data)`` for each event of a text/event-stream response body. */
export async function readEvents(response, onEvent) {
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
