/** A Server-Sent Events reader over fetch, for tests: every event with its id, name and data. */
export interface SseEvent {
  id?: string;
  event: string;
  data: string;
  /** Date.now() when the event was parsed. */
  at: number;
}

export interface SseReader {
  status: number;
  events: SseEvent[];
  /** Comment lines seen (heartbeats). */
  comments: number;
  /** Resolves with the first event (after `from`) matching `pred`. */
  next(pred?: (e: SseEvent) => boolean, timeoutMs?: number, from?: number): Promise<SseEvent>;
  /** Resolves when the server ended the stream. */
  ended: Promise<void>;
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
  const ac = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: ac.signal });
  const events: SseEvent[] = [];
  const waiters = new Set<() => void>();
  let comments = 0;
  let done!: () => void;
  const ended = new Promise<void>((r) => (done = r));
  const reader: SseReader = {
    status: res.status,
    events,
    get comments() {
      return comments;
    },
    async next(pred = () => true, timeoutMs = 10_000, from = 0) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = events.slice(from).find(pred);
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`no matching SSE event within ${timeoutMs} ms (${events.length} events: ${events.map((e) => e.event).join(',')})`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, 100);
          waiters.add(() => (clearTimeout(t), r()));
        });
      }
    },
    ended,
    close: () => ac.abort(),
  };
  if (!res.body || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    done();
    return reader;
  }
  void (async () => {
    const dec = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += dec.decode(chunk, { stream: true });
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const e: SseEvent = { event: 'message', data: '', at: Date.now() };
          let any = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments++;
            else if (line.startsWith('id: ')) e.id = line.slice(4);
            else if (line.startsWith('event: ')) (e.event = line.slice(7), (any = true));
            else if (line.startsWith('data: ')) (e.data += line.slice(6), (any = true));
          }
          if (any) events.push(e);
        }
        for (const w of [...waiters]) (waiters.delete(w), w());
      }
    } catch {
      /* aborted */
    } finally {
      done();
    }
  })();
  return reader;
}
