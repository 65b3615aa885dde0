import {
  type DynamicModule,
  type InjectionToken,
  type ModuleMetadata,
  Module,
  type OptionalFactoryDependency,
  type Provider,
  type Type,
} from '@nestjs/common';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import { GATEWAY_HOOKS, type GatewayHooks } from './gateway-hooks.js';
import { HooksService } from './hooks.service.js';
import { HttpGatewayHooks } from './http-hooks.js';

/** Hooks in this process: a class, an object or a factory providing GatewayHooks. */
export interface HooksModuleOptions extends Pick<ModuleMetadata, 'imports'> {
  useClass?: Type<GatewayHooks>;
  useValue?: GatewayHooks;
  useFactory?: (...args: never[]) => GatewayHooks | Promise<GatewayHooks>;
  inject?: (InjectionToken | OptionalFactoryDependency)[];
}

/** The HTTP hooks when HOOK_URL is set, else none. */
function hooksFromConfig(config: GatewayConfig): GatewayHooks | null {
  const { url } = config.hooks;
  return url === undefined ? null : new HttpGatewayHooks({ ...config.hooks, url });
}

/**
 * Provides GATEWAY_HOOKS and HooksService, globally (the gateway's upgrade and handlers ask them).
 * `forRoot()` takes the HTTP hooks from HOOK_URL/HOOKS; `forRoot({useClass | useValue | useFactory})`
 * installs hooks written in this process instead (HOOK_URL is then ignored). AppModule imports it
 * once: pass in-process hooks through `AppModule.forRoot(config, {hooks})`.
 */
@Module({})
export class HooksModule {
  static forRoot(options: HooksModuleOptions = {}): DynamicModule {
    let hooks: Provider;
    if (options.useClass) hooks = { provide: GATEWAY_HOOKS, useClass: options.useClass };
    else if (options.useValue) hooks = { provide: GATEWAY_HOOKS, useValue: options.useValue };
    else if (options.useFactory)
      hooks = { provide: GATEWAY_HOOKS, useFactory: options.useFactory, inject: options.inject ?? [] };
    else hooks = { provide: GATEWAY_HOOKS, useFactory: hooksFromConfig, inject: [GATEWAY_CONFIG] };
    return {
      module: HooksModule,
      global: true,
      imports: options.imports ?? [],
      providers: [hooks, HooksService],
      exports: [GATEWAY_HOOKS, HooksService],
    };
  }
}
