import { type CanActivate, type ExecutionContext, UseFilters, UseGuards, UsePipes } from '@nestjs/common';
import { MessageBody, SubscribeMessage } from '@nestjs/websockets';
import { HotRoute, planHotRoute } from '../../src/gateway/hot-route.js';
import { WsErrorFilter } from '../../src/gateway/ws-error.filter.js';
import { WsConnection } from '../../src/gateway/ws-params.decorator.js';
import type { Connection } from '../../src/hub/connection.js';
import { MessageDto } from '../../src/protocol/envelope.dto.js';
import { EnvelopePipe } from '../../src/protocol/envelope.pipe.js';
import { join, startApp, TestClient, type TestApp } from '../harness/index.js';

/** Denies every frame whose payload says `blocked`: proves a guard runs. */
class DenyBlocked implements CanActivate {
  canActivate(ctx: ExecutionContext): boolean {
    return ctx.switchToWs().getData<{ content?: string }>()?.content !== 'blocked';
  }
}

describe('hot routes', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ RATE_LIMIT_PER_SEC: '1000' });
  });
  afterAll(() => t.close());

  it('routes `message` frames directly and everything else through Nest', () => {
    // The messaging e2e suites (validation errors, too_long, faults, acks) therefore exercise the hot
    // route for `message` and Nest's pipeline for the other frames.
    expect(typeof planHotRoute(t.app, 'message')).toBe('function');
    for (const type of ['join', 'leave', 'direct', 'ping', 'auth'])
      expect(planHotRoute(t.app, type)).toBeNull();
  });

  it('falls back to Nest when a global guard exists, and the guard runs', async () => {
    const g = await startApp(
      { RATE_LIMIT_PER_SEC: '1000' },
      { beforeListen: (app) => app.useGlobalGuards(new DenyBlocked()) },
    );
    try {
      expect(planHotRoute(g.app, 'message')).toMatch(/global enhancer/);
      const c = await TestClient.connect(g.wsUrl, { token: g.token('guarded') });
      await join(c, 'r');
      c.send({ type: 'message', room: 'r', content: 'blocked', id: 'g1' });
      expect(await c.next('error')).toMatchObject({ ref: 'g1' });
      c.send({ type: 'message', room: 'r', content: 'fine', id: 'g2' });
      expect(await c.next('ack')).toMatchObject({ id: 'g2' });
      c.close();
    } finally {
      await g.close();
    }
  });

  it('declines handlers with anything around them or another shape, saying why', () => {
    class Guarded {
      @SubscribeMessage('hot-guarded')
      @HotRoute()
      @UseGuards(DenyBlocked)
      @UsePipes(EnvelopePipe)
      @UseFilters(WsErrorFilter)
      m(@WsConnection() _c: Connection, @MessageBody() _dto: MessageDto): void {}
    }
    @UsePipes(EnvelopePipe)
    @UseFilters(WsErrorFilter)
    class Shapes {
      @SubscribeMessage('hot-body-only')
      @HotRoute()
      a(@MessageBody() _dto: MessageDto): void {}

      @SubscribeMessage('hot-no-pipe')
      @HotRoute()
      @UsePipes()
      b(@WsConnection() _c: Connection, @MessageBody('room') _room: string): void {}
    }
    @UsePipes(EnvelopePipe)
    class NoFilter {
      @SubscribeMessage('hot-no-filter')
      @HotRoute()
      c(@WsConnection() _c: Connection, @MessageBody() _dto: MessageDto): void {}
    }
    expect([Guarded, Shapes, NoFilter]).toHaveLength(3);
    expect(planHotRoute(t.app, 'hot-guarded')).toMatch(/guards/);
    expect(planHotRoute(t.app, 'hot-body-only')).toMatch(/parameters/);
    expect(planHotRoute(t.app, 'hot-no-pipe')).toMatch(/parameters/);
    expect(planHotRoute(t.app, 'hot-no-filter')).toMatch(/filters/);
  });
});
