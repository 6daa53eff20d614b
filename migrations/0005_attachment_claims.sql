ALTER TABLE `attachments` ADD `upload_started_at` integer;--> statement-breakpoint
ALTER TABLE `attachments` ADD `cmid` text;--> statement-breakpoint
ALTER TABLE `attachments` ADD `mid` text;