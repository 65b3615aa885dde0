import { Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { loadConfig } from '../../src/config/config.js';
import { ConfigModule } from '../../src/config/config.module.js';
import { HUB_MODULE_OPTIONS, HubModule } from '../../src/hub/hub.module.js';
import { HubService } from '../../src/hub/hub.service.js';
import {
  join as joinRoom,
  startApp,
  TEST_SECRET,
  TestClient,
  type TestApp,
  userToken,
} from '../harness/index.js';

/** The example of docs/operations.md: another module injects HubService and listens to hub.events. */
@Injectable()
class RoomGreeter implements OnModuleInit {
  readonly seen: string[] = [];
  constructor(private readonly hub: HubService) {}
  onModuleInit(): void {
    this.hub.events.on('joined', ({ user, room }) => {
      this.seen.push(`${user.id}@${room}`);
      void this.hub.publish(room, `welcome ${user.name}`, { sender: { id: 'greeter', name: 'Greeter' } });
    });
  }
}

@Module({ providers: [RoomGreeter] })
class GreeterModule {}

describe('HubModule as a reusable dynamic module', () => {
  const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent' });

  it('forRoot({config, isGlobal}) exports HubService to other modules, with one options token', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config), HubModule.forRoot({ config, isGlobal: true }), GreeterModule],
    }).compile();
    await moduleRef.init();
    const hub = moduleRef.get(HubService);
    expect(moduleRef.get(HUB_MODULE_OPTIONS)).toEqual({ config });
    expect(await hub.publish('r', 'hello')).toEqual({ id: expect.any(String), seq: 1 });
    expect(hub.stats()).toMatchObject({ connections: 0, draining: false });
    await moduleRef.close();
  });

  it('forRootAsync({inject, useFactory}) resolves the options from other providers', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ConfigModule.forRoot(config),
        HubModule.forRootAsync({ isGlobal: true, inject: [], useFactory: async () => ({ config }) }),
        GreeterModule,
      ],
    }).compile();
    await moduleRef.init();
    expect(moduleRef.get(HubService)).toBeInstanceOf(HubService);
    await moduleRef.close();
  });

  it('the docs example works in the running app: a module reacts to joins through HubService', async () => {
    let t: TestApp | undefined;
    try {
      t = await startApp({}, { logLevel: 'info' });
      const greeter = new RoomGreeter(t.hub);
      greeter.onModuleInit();
      const c = await TestClient.connect(t.wsUrl, { token: userToken('newcomer') });
      await joinRoom(c, 'lounge');
      expect(await c.next('message')).toMatchObject({
        room: 'lounge',
        content: 'welcome newcomer',
        sender: { id: 'greeter' },
      });
      expect(greeter.seen).toEqual(['newcomer@lounge']);
      c.close();
    } finally {
      await t?.close();
    }
  });
});
