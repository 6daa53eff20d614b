ALTER TABLE `friend_requests` ADD `pair_key` text DEFAULT '' NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `friend_requests_pending_pair` ON `friend_requests` (`pair_key`) WHERE "friend_requests"."status" = 'pending';--> statement-breakpoint
ALTER TABLE `idempotency_keys` ADD `push_id` text DEFAULT '' NOT NULL;