/**
 * What other modules subscribe to through `HubService.events`: the typed events of src/events
 * (the same ones the Redis Stream and webhooks carry), emitted by the HubEventBus.
 */
export type { HubEvents, GatewayEvents, EventType, LeftReason } from '../events/events.js';
export { HubEventBus } from '../events/event-bus.js';
