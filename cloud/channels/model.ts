/**
 * Alert channels (issue 13 part 3): where people read alerts - DingTalk, Feishu/Lark and WeCom
 * group robots, email, and a plain JSON webhook. The types and the input schema of
 * `POST /api/v1/channels`.
 */
import { z } from 'zod';
import { SiteId } from '../../protocols/mqtt/index.js';
import { ALERT_TYPES } from '../alerts/alert-store.js';

export const CHANNEL_TYPES = ['dingtalk', 'feishu', 'wecom', 'email', 'webhook'] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];
export const CHANNEL_LANGS = ['zh-CN', 'en'] as const;
export type ChannelLang = (typeof CHANNEL_LANGS)[number];

const HttpUrl = z
  .string()
  .max(2048)
  .refine((u) => /^https?:$/.test(URL.canParse(u) ? new URL(u).protocol : ''), 'expected an http:// or https:// URL');

/** Alert types raised by the business modules, per project (cloud/projects: over-issue, 超领). */
export const PROJECT_ALERT_TYPES = ['OVER_ISSUE'] as const;
/**
 * Alert types addressed to people (cloud/sales: a reservation put at risk, issue 11 §1): the
 * event names its `users` (the order's owner, the site's managers), which `routes.users` match.
 */
export const USER_ALERT_TYPES = ['RESERVATION_AT_RISK'] as const;
const ROUTE_TYPES = [...ALERT_TYPES, ...PROJECT_ALERT_TYPES, ...USER_ALERT_TYPES] as const;

/** Which alerts a channel gets: every listed type, and when given only these sites / projects / users. */
export const ChannelRoutes = z.strictObject({
  types: z.array(z.enum(ROUTE_TYPES)).min(1).max(ROUTE_TYPES.length),
  sites: z.array(SiteId).min(1).max(1000).optional(),
  /** Only alerts of these projects (OVER_ISSUE carries its project): a project manager's channel. */
  projects: z.array(z.string().min(1).max(64)).min(1).max(1000).optional(),
  /**
   * Only alerts addressed to one of these users (RESERVATION_AT_RISK names the order's owner and
   * the site's managers): a person's robot or mailbox. An alert addressed to nobody never matches.
   */
  users: z.array(z.string().min(1).max(128)).min(1).max(1000).optional(),
});
export type ChannelRoutes = z.infer<typeof ChannelRoutes>;

/** Email over SMTP: the password is the channel's `secret` (stored, never returned). */
export const SmtpConfig = z.strictObject({
  host: z.string().min(1).max(253),
  port: z.number().int().min(1).max(65535),
  /** Implicit TLS (port 465); otherwise STARTTLS when the server offers it. Default false. */
  secure: z.boolean().default(false),
  user: z.string().min(1).max(256).optional(),
  from: z.email().max(320),
  to: z.array(z.email().max(320)).min(1).max(50),
});
export type SmtpConfig = z.infer<typeof SmtpConfig>;

/**
 * The body of `POST /api/v1/channels`. Chat robots and webhooks take `url`; email takes `smtp`.
 * `secret`: DingTalk and Feishu signing secret, the WeCom key (when not already in the URL), the
 * webhook HMAC key, the SMTP password.
 */
export const ChannelInput = z
  .strictObject({
    type: z.enum(CHANNEL_TYPES),
    name: z.string().min(1).max(100).optional(),
    url: HttpUrl.optional(),
    smtp: SmtpConfig.optional(),
    secret: z.string().min(1).max(256).optional(),
    routes: ChannelRoutes,
    lang: z.enum(CHANNEL_LANGS).default('zh-CN'),
    /** DingTalk: send an actionCard whose button opens this URL (the board) instead of markdown. */
    link: HttpUrl.optional(),
  })
  .superRefine((c, ctx) => {
    if (c.type === 'email') {
      if (!c.smtp) ctx.addIssue({ code: 'custom', path: ['smtp'], message: 'required for type email' });
      if (c.url) ctx.addIssue({ code: 'custom', path: ['url'], message: 'not used by type email (use smtp)' });
    } else {
      if (!c.url) ctx.addIssue({ code: 'custom', path: ['url'], message: `required for type ${c.type}` });
      if (c.smtp) ctx.addIssue({ code: 'custom', path: ['smtp'], message: `only for type email` });
    }
    if (c.link && c.type !== 'dingtalk') ctx.addIssue({ code: 'custom', path: ['link'], message: 'only for type dingtalk (actionCard)' });
    if (c.type === 'webhook' && c.secret !== undefined && c.secret.length < 16) ctx.addIssue({ code: 'custom', path: ['secret'], message: 'at least 16 characters' });
  });
export type ChannelInput = z.infer<typeof ChannelInput>;

/** A channel as stored and listed (the secret is never returned). */
export interface Channel {
  id: string;
  type: ChannelType;
  name?: string;
  url?: string;
  smtp?: SmtpConfig;
  routes: ChannelRoutes;
  lang: ChannelLang;
  link?: string;
  createdAt: string;
}

/** A channel with what sending needs. */
export interface ChannelWithSecret extends Channel {
  secret?: string;
}

/**
 * One alert event queued for one channel. Stored `pending` until a post carrying it succeeds;
 * the API shows `pending` as `retrying` (with `attempts` 0 when not tried yet).
 */
export interface ChannelDelivery {
  id: number;
  channelId: string;
  eventId: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAt: string | null;
  /** The service's body error code (`130101`), `HTTP_503`, or a network error (`ECONNREFUSED`, `TIMEOUT`). */
  lastErrorCode: string | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
  /** The alert event JSON (as on MQTT and webhooks). */
  body: string;
}

/** A delivery taken into a post: its event and how often it was tried before. */
export interface ClaimedItem {
  id: number;
  eventId: string;
  body: string;
  attempts: number;
}

/** One post to make: a channel and its pending deliveries in queue order (a digest when several). */
export interface ClaimedPost {
  channel: ChannelWithSecret;
  items: ClaimedItem[];
  /** When the post's rate token was taken (also the signing timestamp). */
  at: Date;
}

export type PostOutcome =
  | { ok: true; at: Date }
  | {
      ok: false;
      at: Date;
      code: string;
      error: string;
      /** When to try again; null marks the deliveries failed. */
      retryAt: Date | null;
    };

/** What the alert event carries for routing (set by `alertEvent`). */
export interface RouteKey {
  type: string;
  site: string;
  project?: string;
  /** The users an alert is addressed to (RESERVATION_AT_RISK: the order's owner, the site's managers). */
  users?: readonly string[];
}
