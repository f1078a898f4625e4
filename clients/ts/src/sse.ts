// A reader of server-sent events (the WHATWG event stream format), which is
// how keyward streams chat completions: `data: {...}\n\n` … `data: [DONE]`.

/** One event: its name ("message" when it has none) and its data lines joined by "\n". */
export interface ServerSentEvent {
  event: string;
  data: string;
}

/**
 * readEvents yields the events of an event stream body. Lines may end in
 * \r\n, \n or \r, split anywhere across chunks. Leaving the loop early
 * cancels the body.
 */
export async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  let first = true;
  let event = "";
  let data: string[] = [];
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        buf += decoder.decode();
      } else {
        buf += decoder.decode(value, { stream: true });
      }
      if (first && buf.length > 0) {
        if (buf.charCodeAt(0) === 0xfeff) {
          buf = buf.slice(1);
        }
        first = false;
      }
      // Take every complete line. A "\r" at the very end may be the first
      // half of "\r\n": it waits for the next chunk, unless there is none.
      let start = 0;
      for (;;) {
        let i = start;
        while (i < buf.length && buf[i] !== "\n" && buf[i] !== "\r") {
          i++;
        }
        if (i >= buf.length || (buf[i] === "\r" && i === buf.length - 1 && !done)) {
          break;
        }
        const line = buf.slice(start, i);
        start = buf[i] === "\r" && buf[i + 1] === "\n" ? i + 2 : i + 1;
        if (line === "") {
          if (data.length > 0) {
            yield { event: event || "message", data: data.join("\n") };
          }
          event = "";
          data = [];
          continue;
        }
        if (line.startsWith(":")) {
          continue; // a comment, such as a keep-alive
        }
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? "" : line.slice(colon + 1);
        if (val.startsWith(" ")) {
          val = val.slice(1);
        }
        if (field === "data") {
          data.push(val);
        } else if (field === "event") {
          event = val;
        }
      }
      buf = buf.slice(start);
      if (done) {
        // The format drops an event that the stream ends in the middle of.
        finished = true;
        return;
      }
    }
  } finally {
    if (!finished) {
      reader.cancel().catch(() => {});
    }
  }
}
