import { serviceKey } from '../kernel/feature'

/** An image stored by qunyun, ready to send as a file. */
export interface StoredMedia {
  data: Buffer
  /** A file name with the right extension (e.g. share-image-12.png). */
  name: string
  mime: string
}

/**
 * Stored images that outbound actions reference as `media:<kind>:<id>` instead of a URL, so the queued
 * row stays small: channels that send files resolve the reference when they perform the action.
 * scheduled-share provides it (`media:share-image:<id>`).
 */
export interface MediaStore {
  /** The image a `media:` reference names, or null when it no longer exists. */
  load(ref: string): Promise<StoredMedia | null>
}

/** The media service. */
export const MEDIA = serviceKey<MediaStore>('media')

/** Whether an outbound image URL is a stored-media reference. */
export function isMediaRef(url: string): boolean {
  return url.startsWith('media:')
}
