import {
  type DynamicModule,
  type FactoryProvider,
  type InjectionToken,
  type ModuleMetadata,
  Module,
  type OptionalFactoryDependency,
} from '@nestjs/common';
import { ClusterModule } from '../cluster/cluster.module.js';
import { BROKER, type Broker } from '../cluster/broker.js';
import { IDEMPOTENCY, type IdempotencyStore } from '../cluster/idempotency.js';
import { PRESENCE, type PresenceStore } from '../cluster/presence.js';
import { USERS, type UserDirectory } from '../cluster/users.js';
import { type GatewayConfig, loadConfig } from '../config/config.js';
import { HubService } from './hub.service.js';

/** What the hub runs with. */
export interface HubModuleOptions {
  /**
   * Limits, queues, history and dedup settings. Defaults to the configuration read from the
   * environment (`loadConfig()`).
   */
  config?: GatewayConfig;
}

export interface HubModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  inject?: (InjectionToken | OptionalFactoryDependency)[];
  useFactory: (...args: never[]) => HubModuleOptions | Promise<HubModuleOptions>;
  /** Register HubService globally (any module injects it without importing HubModule). */
  isGlobal?: boolean;
}

/** The one options token of HubModule (like throttler's 'THROTTLER:MODULE_OPTIONS'). */
export const HUB_MODULE_OPTIONS = Symbol('HUB:MODULE_OPTIONS');

/**
 * The hub as a reusable dynamic module: `forRoot(options)` or `forRootAsync({inject, useFactory})`,
 * both resolving to HUB_MODULE_OPTIONS. Exports HubService (publish, sendToUser, broadcast,
 * disconnectUser, stats, events) and re-exports ClusterModule (the broker, presence and idempotency seams).
 *
 * Import it ONCE per application (AppModule does, with isGlobal): every forRoot call makes its own
 * HubService, and two hubs in one process would split the connections between them.
 *
 * ClusterModule (imported here) reads GATEWAY_CONFIG from the global ConfigModule, so an application
 * using HubModule also imports `ConfigModule.forRoot()`.
 */
@Module({})
export class HubModule {
  static forRoot(options: HubModuleOptions & { isGlobal?: boolean } = {}): DynamicModule {
    const { isGlobal, ...rest } = options;
    return HubModule.build({ provide: HUB_MODULE_OPTIONS, useFactory: () => rest }, [], isGlobal);
  }

  static forRootAsync(options: HubModuleAsyncOptions): DynamicModule {
    return HubModule.build(
      { provide: HUB_MODULE_OPTIONS, inject: options.inject ?? [], useFactory: options.useFactory },
      options.imports ?? [],
      options.isGlobal,
    );
  }

  private static build(
    optionsProvider: FactoryProvider,
    imports: NonNullable<ModuleMetadata['imports']>,
    isGlobal = false,
  ): DynamicModule {
    return {
      module: HubModule,
      global: isGlobal,
      imports: [ClusterModule, ...imports],
      providers: [
        optionsProvider,
        // Built from the options (not from the global GATEWAY_CONFIG token, so that a forRootAsync
        // factory may itself inject GATEWAY_CONFIG without a cycle).
        {
          provide: HubService,
          inject: [HUB_MODULE_OPTIONS, BROKER, PRESENCE, IDEMPOTENCY, USERS],
          useFactory: (
            o: HubModuleOptions,
            broker: Broker,
            presence: PresenceStore,
            idempotency: IdempotencyStore,
            users: UserDirectory,
          ) => new HubService(o.config ?? loadConfig(), broker, presence, idempotency, users),
        },
      ],
      exports: [HubService, HUB_MODULE_OPTIONS, ClusterModule],
    };
  }
}
