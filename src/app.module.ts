import { type DynamicModule, Module } from '@nestjs/common';
import { type GatewayConfig } from './config/config.js';
import { ConfigModule } from './config/config.module.js';
import { GatewayModule } from './gateway/gateway.module.js';

@Module({})
export class AppModule {
  static forRoot(config?: GatewayConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config), GatewayModule],
    };
  }
}
