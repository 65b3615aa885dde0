import type { IncomingMessage, ServerResponse } from 'node:http';

/** The few Express request/response members used here (the project has no @types/express). */
export type HttpRequest = IncomingMessage & { body?: unknown };

export interface HttpResponse extends ServerResponse {
  status(code: number): this;
  json(body: unknown): this;
  send(body: unknown): this;
}

export type NextFunction = (err?: unknown) => void;
