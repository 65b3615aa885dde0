import { type DynamicModule, Global, Module } from '@nestjs/common';
import { GATEWAY_CONFIG, type GatewayConfig, loadConfig } from './config.js';

@Global()
@Module({})
export class ConfigModule {
  /** Provides the validated configuration; pass one to override the environment (tests). */
  static forRoot(config?: GatewayConfig): DynamicModule {
    return {
      module: ConfigModule,
      providers: [{ provide: GATEWAY_CONFIG, useFactory: () => config ?? loadConfig() }],
      exports: [GATEWAY_CONFIG],
    };
  }
}
