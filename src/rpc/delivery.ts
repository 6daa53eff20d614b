import type { GroupAction, UnsequencedEvent } from "../protocol";

/**
 * An event on its way into a user's inbox. `skipDevices` (not stored) keeps
 * the live push off those devices, e.g. the device a push excludes.
 */
export type Deliverable = UnsequencedEvent & { skipDevices?: string[] };

/** What `deliver` did with one event. */
export interface Delivered {
  seq: number;
  /** Devices reached live (0 when it was a duplicate or the user is offline). */
  devices: number;
  duplicate: boolean;
}

/**
 * A run of a member's events as the group hands it to their user object:
 * the events after `prev` in this member's stream (gseqs `gseqs`, so each
 * one's prev is the gseq before it), encoded once as the socket message
 * that carries them (frames newline-separated, as every push is sent). One
 * run is shared by every member whose copies are the same, so a push to a
 * thousand members serializes one string, not a thousand object graphs,
 * and the user object sends it as is. Beside it, what the user object
 * reads without decoding it.
 */
export interface LiveRun {
  prev: number;
  gseqs: number[];
  text: string;
  /** The membership changes among them (the user object learns its own joins and leaves from these). */
  groups?: { gseq: number; action: GroupAction; target?: string }[];
  /** Devices this run is never pushed to: the sending device of one's own message, those a backend push skips. */
  skipDevices?: string[];
}

/** What one relay (or the group itself) got back from pushing to members. */
export interface PushOutcome {
  /** Members whose objects have no socket: no longer online. */
  offline: string[];
  /** Members whose objects could not be reached: retried. */
  failed: string[];
}

/** What the backend pushes: kind, JSON body, and optionally who it is from. */
export interface PushContent {
  kind: string;
  body: unknown;
  from?: string;
}
