import {
  type ArgumentMetadata,
  type INestApplication,
  type PipeTransform,
  type WsExceptionFilter,
} from '@nestjs/common';
import {
  EXCEPTION_FILTERS_METADATA,
  GUARDS_METADATA,
  INTERCEPTORS_METADATA,
  PIPES_METADATA,
  ROUTE_ARGS_METADATA,
} from '@nestjs/common/internal';
import { ExecutionContextHost } from '@nestjs/core/internal';
import { MESSAGE_METADATA } from '@nestjs/websockets/constants.js';
import type { WebSocket } from 'ws';
import type { Connection } from '../hub/connection.js';
import { EnvelopePipe } from '../protocol/envelope.pipe.js';
import { WsErrorFilter } from './ws-error.filter.js';
import { connectionParam } from './ws-params.decorator.js';

type GatewayClass = new (...args: never[]) => object;
/** Marked methods; matched to frames by their @SubscribeMessage pattern when the router binds. */
const hotMethods: { cls: GatewayClass; methodName: string }[] = [];

/**
 * Marks a `@SubscribeMessage` handler of shape `(@WsConnection() c, @MessageBody() dto)` as a hot
 * route: the Router calls it directly (EnvelopePipe, then the method, errors to WsErrorFilter)
 * instead of through Nest's handler pipeline, which costs several microseconds and about fifteen
 * promises per frame. The result is the same as Nest's as long as the handler has nothing else
 * around it, and the router checks exactly that when it binds: any guard, interceptor, other pipe
 * or filter (on the method, the class or global) or any other parameter makes it fall back to
 * Nest's pipeline, with a warning. So adding `@UseGuards()` later never silently skips the guard.
 */
export function HotRoute(): MethodDecorator {
  return (target, key) => {
    hotMethods.push({ cls: target.constructor as GatewayClass, methodName: String(key) });
  };
}

/** Calls a hot route for a frame; returns what the method returned (or undefined after an error). */
export type HotInvoker = (ws: WebSocket, c: Connection, frame: unknown, type: string) => unknown;

/**
 * The direct invoker for frames of type `pattern`, or a string saying why they must go through
 * Nest's pipeline (null when no hot route handles that pattern).
 */
export function planHotRoute(app: INestApplication, pattern: string): HotInvoker | string | null {
  const found = hotMethods.filter(
    ({ cls, methodName }) =>
      Reflect.getMetadata(MESSAGE_METADATA, (cls.prototype as Record<string, object>)[methodName]) ===
      pattern,
  );
  if (found.length === 0) return null;
  if (found.length > 1) return `several hot routes handle "${pattern}"`;
  const { cls, methodName } = found[0];
  const method = (cls.prototype as Record<string, unknown>)[methodName] as (...args: unknown[]) => unknown;

  const config = (app as unknown as { config?: Record<string, () => unknown[]> }).config;
  if (config === undefined) return 'cannot see the global enhancers';
  for (const getter of [
    'getGlobalGuards',
    'getGlobalInterceptors',
    'getGlobalPipes',
    'getGlobalFilters',
    'getGlobalRequestGuards',
    'getGlobalRequestInterceptors',
    'getGlobalRequestPipes',
    'getGlobalRequestFilters',
  ]) {
    const list = config[getter]?.call(config);
    if (list === undefined) return `cannot see ${getter}`;
    if (list.length > 0) return `a global enhancer is registered (${getter})`;
  }
  const meta = (key: string, on: object): unknown[] => (Reflect.getMetadata(key, on) as unknown[]) ?? [];
  if (meta(GUARDS_METADATA, cls).length + meta(GUARDS_METADATA, method).length > 0) return 'it has guards';
  if (meta(INTERCEPTORS_METADATA, cls).length + meta(INTERCEPTORS_METADATA, method).length > 0)
    return 'it has interceptors';
  const pipes = [...meta(PIPES_METADATA, cls), ...meta(PIPES_METADATA, method)];
  if (pipes.length !== 1 || pipes[0] !== EnvelopePipe) return 'its pipes are not exactly EnvelopePipe';
  const filters = [...meta(EXCEPTION_FILTERS_METADATA, cls), ...meta(EXCEPTION_FILTERS_METADATA, method)];
  if (filters.length !== 1 || filters[0] !== WsErrorFilter)
    return 'its filters are not exactly WsErrorFilter';

  // Parameters: exactly (@WsConnection() c, @MessageBody() dto), no parameter pipes.
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, cls, methodName) ?? {}) as Record<
    string,
    { index: number; data?: unknown; pipes?: unknown[]; factory?: unknown }
  >;
  const entries = Object.entries(args);
  const conn = entries.find(([, a]) => a.index === 0);
  const body = entries.find(([, a]) => a.index === 1);
  if (
    entries.length !== 2 ||
    conn === undefined ||
    conn[1].factory !== connectionParam ||
    body === undefined ||
    body[0] !== '3:1' || // WsParamtype.PAYLOAD at index 1
    body[1].data !== undefined ||
    (conn[1].pipes?.length ?? 0) + (body[1].pipes?.length ?? 0) > 0
  ) {
    return 'its parameters are not exactly (@WsConnection() c, @MessageBody() dto)';
  }
  const paramtypes = Reflect.getMetadata(
    'design:paramtypes',
    cls.prototype as object,
    methodName,
  ) as unknown[];
  const metadata: ArgumentMetadata = {
    type: 'body',
    metatype: paramtypes?.[1] as ArgumentMetadata['metatype'],
  };

  const instance = app.get(cls, { strict: false });
  const pipe: PipeTransform = app.get(EnvelopePipe, { strict: false });
  const filter: WsExceptionFilter = app.get(WsErrorFilter, { strict: false });
  const fail = (ws: WebSocket, frame: unknown, type: string, err: unknown): undefined => {
    const host = new ExecutionContextHost([ws, frame, type]);
    host.setType('ws');
    filter.catch(err, host);
    return undefined;
  };
  return (ws, c, frame, type) => {
    let result: unknown;
    try {
      result = method.call(instance, c, pipe.transform(frame, metadata));
    } catch (err) {
      return fail(ws, frame, type, err);
    }
    if (result instanceof Promise) return result.catch((err: unknown) => fail(ws, frame, type, err));
    return result;
  };
}
