import type { HttpRequest as Request, HttpResponse as Response, NextFunction } from '../common/http.js';

/**
 * The push API's own JSON body reader, installed in front of Nest's parser for /api/publish: a
 * declared Content-Length over the limit is answered 413 without reading, a streamed body is cut off
 * at the limit, and bad JSON is a 400, each with the JSON error body. Once it has read the body,
 * Nest's json parser sees a finished request and leaves it alone.
 */
export function publishBodyReader(limit: number, onAnswer: (status: number) => void = () => {}) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.method !== 'POST') return next();
    const fail = (status: number, error: string, message: string): void => {
      onAnswer(status);
      res.status(status).setHeader('Connection', 'close').json({ error, message });
    };
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > limit) {
      fail(413, 'payload_too_large', `the body is over PUBLISH_MAX_BODY_BYTES (${limit} bytes)`);
      req.resume();
      return;
    }
    const type = String(req.headers['content-type'] ?? '');
    if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) {
      req.resume();
      return fail(415, 'unsupported_media_type', 'send Content-Type: application/json');
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        fail(413, 'payload_too_large', `the body is over PUBLISH_MAX_BODY_BYTES (${limit} bytes)`);
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => {
      done = true;
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        req.body = text.trim() === '' ? {} : JSON.parse(text);
      } catch {
        return fail(400, 'bad_request', 'the body is not valid JSON');
      }
      next();
    });
  };
}
