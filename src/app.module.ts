import { type DynamicModule, Module } from '@nestjs/common';
import { ApiModule } from './api/api.module.js';
import { AsyncApiModule } from './asyncapi/asyncapi.module.js';
import { GATEWAY_CONFIG, type GatewayConfig } from './config/config.js';
import { ConfigModule } from './config/config.module.js';
import { EventsModule } from './events/events.module.js';
import { GatewayModule } from './gateway/gateway.module.js';
import { HealthModule } from './health/health.module.js';
import { HooksModule, type HooksModuleOptions } from './hooks/hooks.module.js';
import { HubModule } from './hub/hub.module.js';
import { LoggingModule } from './logging/logging.module.js';
import { PushModule } from './push/push.module.js';

export interface AppModuleOptions {
  /** Hooks written in this process (GatewayHooks); without them, HOOK_URL's HTTP hooks if set. */
  hooks?: HooksModuleOptions;
}

@Module({})
export class AppModule {
  static forRoot(config?: GatewayConfig, options: AppModuleOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        // One hub per process, global: the gateway, push, health and any module of yours inject it.
        HubModule.forRootAsync({
          isGlobal: true,
          inject: [GATEWAY_CONFIG],
          useFactory: (c: GatewayConfig) => ({ config: c }),
        }),
        HooksModule.forRoot(options.hooks),
        GatewayModule,
        HealthModule,
        PushModule,
        ApiModule,
        LoggingModule,
        EventsModule,
        AsyncApiModule,
      ],
    };
  }
}
