import { parseChangeNotification, type ChangeNotification } from '../../db/change-notification.js';

/** Callbacks through which a change listener reports to its owner. */
export interface ChangeListenerHandlers {
  onChange(notification: ChangeNotification): void;
  /** A payload arrived on the channel that this build cannot parse, so its change is unknown. */
  onUnreadableChange(): void;
  /** The listener listens again after losing its connection, so changes made meanwhile were missed. */
  onReconnected(): void;
}

/** Receives the change notifications that `notifyChange` sends. */
export interface ChangeListener {
  /** Starts listening. Rejects when the first connection fails. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** True while notifications can arrive. */
  readonly listening: boolean;
}

export function dispatchPayload(payload: string | undefined, handlers: ChangeListenerHandlers): void {
  const notification = payload === undefined ? undefined : parseChangeNotification(payload);
  if (notification) handlers.onChange(notification);
  else handlers.onUnreadableChange();
}
