// Type declarations for the LiveChat widget's JavaScript API: `window.livechat(method, ...)`.
//
// The snippet's inline loader defines `livechat` at once, so calls may be made before the
// widget has loaded: they wait in a queue and run in order once it has (`open`, `toggle` and
// `sendMessage` load it). A call with wrong arguments logs one warning in the console and does
// nothing else. Copy this file into your project (or reference it) to type your calls.

export {};

/** What `identify` names: the site's signed-in user, vouched for by the site's backend. */
export interface LiveChatUser {
  /** The site's own id for the user (1 to 256 bytes). */
  userId: string;
  /**
   * HMAC-SHA256 of `userId`, keyed with the site's identity secret (admin app, site settings),
   * as 64 lowercase hex digits. Compute it on your server; the secret never goes to a browser.
   */
  signature: string;
  /** Shown to operators. */
  name?: string;
  /** Shown to operators. */
  email?: string;
}

/** Custom attributes shown to operators; `null` removes one. At most 30 keys. */
export type LiveChatAttributes = Record<string, string | number | boolean | null>;

/** Where the chat is connected now (`connection` event). */
export interface LiveChatConnection {
  state: "connecting" | "online" | "offline" | "outdated" | "unavailable";
  /** The deployment's base URL while online; `null` otherwise. */
  deployment: string | null;
}

export interface LiveChatMessage {
  messageId: string;
  conversationId: string;
  body: string;
  author: { name: string | null };
  /** Unix milliseconds. */
  sentAt: number;
}

/** A message of the visitor's was stored: once on one deployment, and again on both. */
export interface LiveChatSent {
  messageId: string;
  /** Present on the first stage. */
  conversationId?: string;
  /** `false`: stored on one deployment; `true`: on both (it can no longer be lost). */
  replicated: boolean;
}

export interface LiveChatEvents {
  /** The widget has loaded and runs (a listener added later is called at once). */
  ready: Record<string, never>;
  open: Record<string, never>;
  close: Record<string, never>;
  /** An operator's message arrived. */
  message: LiveChatMessage;
  sent: LiveChatSent;
  /** The unread count changed. */
  unread: { count: number };
  "conversation:start": { conversationId: string };
  "conversation:end": { conversationId: string };
  /** The connection changed: a failover shows as a new `deployment`. */
  connection: LiveChatConnection;
}

export interface LiveChatApi {
  (method: "open" | "close" | "toggle" | "show" | "hide"): void;
  (method: "identify", user: LiveChatUser): void;
  (method: "setAttributes", attributes: LiveChatAttributes): void;
  /** Sends a message as the visitor (kept in the outbox until it is on both deployments). */
  (method: "sendMessage", text: string): void;
  /** A BCP 47 tag (`de`, `pt-BR`, `ar`): the widget's language, direction and times. */
  (method: "setLocale", locale: string): void;
  <E extends keyof LiveChatEvents>(
    method: "on",
    event: E,
    listener: (payload: LiveChatEvents[E]) => void,
  ): void;
  /** Without a listener, removes every listener of the event. */
  <E extends keyof LiveChatEvents>(
    method: "off",
    event: E,
    listener?: (payload: LiveChatEvents[E]) => void,
  ): void;
  /**
   * Forgets the visitor (your user logged out): token, conversation and identity, once every
   * unsent message is on both deployments, or at once with `discardUnsent`.
   */
  (method: "shutdown", options?: { discardUnsent?: boolean }): void;
  /** The calls waiting for the widget to load. */
  q?: IArguments[];
}

declare global {
  interface Window {
    livechat: LiveChatApi;
  }
  const livechat: LiveChatApi;
}
