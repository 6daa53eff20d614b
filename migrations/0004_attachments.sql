CREATE TABLE `attachments` (
	`id` text PRIMARY KEY NOT NULL,
	`owner_id` text NOT NULL,
	`chat` text NOT NULL,
	`peer` text NOT NULL,
	`kind` text NOT NULL,
	`content_type` text NOT NULL,
	`size` integer NOT NULL,
	`name` text,
	`created_at` integer NOT NULL,
	`uploaded_at` integer,
	`sent_at` integer,
	`deleted_at` integer
);
--> statement-breakpoint
CREATE INDEX `attachments_live_idx` ON `attachments` (`deleted_at`,`created_at`);