-- WordPress statements as its code (Debian's wordpress package, wp-includes/)
-- sends them, with concrete values. One statement per block; blocks are
-- separated by a line containing only ;;
SET NAMES 'utf8mb4' COLLATE 'utf8mb4_unicode_520_ci'
;;
SELECT @@SESSION.sql_mode
;;
SET SESSION sql_mode='ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'
;;
SELECT option_name, option_value FROM wp_options WHERE autoload = 'yes'
;;
SELECT option_name, option_value FROM wp_options WHERE autoload IN ( 'yes', 'on', 'auto-on', 'auto' )
;;
SELECT option_value FROM wp_options WHERE option_name = 'WPLANG' LIMIT 1
;;
SELECT option_value FROM wp_options WHERE option_name = '_transient_timeout_doing_cron' LIMIT 1
;;
SELECT option_value FROM wp_options WHERE option_name = '_site_transient_update_core' LIMIT 1
;;
SELECT autoload FROM wp_options WHERE option_name = 'cron'
;;
UPDATE `wp_options` SET `option_value` = 'a:3:{i:1716900000;a:1:{s:16:\"wp_version_check\";a:1:{s:32:\"40cd750bba9870f18aada2478b24840a\";a:3:{s:8:\"schedule\";s:10:\"twicedaily\";s:4:\"args\";a:0:{}s:8:\"interval\";i:43200;}}}s:7:\"version\";i:2;}' WHERE `option_name` = 'cron'
;;
INSERT INTO `wp_options` (`option_name`, `option_value`, `autoload`) VALUES ('_transient_doing_cron', '1716900123.4567890167236328125000', 'yes') ON DUPLICATE KEY UPDATE `option_name` = VALUES(`option_name`), `option_value` = VALUES(`option_value`), `autoload` = VALUES(`autoload`)
;;
INSERT INTO `wp_options` (`option_name`, `option_value`, `autoload`) VALUES ('_transient_timeout_wp_theme_files_patterns-5a0c8c4b', '1716901923', 'off') ON DUPLICATE KEY UPDATE `option_name` = VALUES(`option_name`), `option_value` = VALUES(`option_value`), `autoload` = VALUES(`autoload`)
;;
DELETE FROM `wp_options` WHERE `option_name` = '_transient_doing_cron'
;;
DELETE a, b FROM wp_options a, wp_options b WHERE a.option_name LIKE '\\_transient\\_%' AND a.option_name NOT LIKE '\\_transient\\_timeout\\_%' AND b.option_name = CONCAT( '_transient_timeout_', SUBSTRING( a.option_name, 12 ) ) AND b.option_value < 1716900123
;;
UPDATE `wp_options` SET `option_value` = '1716900123' WHERE `option_name` = 'recently_activated'
;;
SELECT * FROM wp_users WHERE user_login = 'admin' LIMIT 1
;;
SELECT * FROM wp_users WHERE ID = '1' LIMIT 1
;;
SELECT user_id, meta_key, meta_value FROM wp_usermeta WHERE user_id IN (1) ORDER BY umeta_id ASC
;;
UPDATE `wp_usermeta` SET `meta_value` = 'a:1:{s:64:\"3f1c5c1e0d7e4a5b9c2d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b\";a:4:{s:10:\"expiration\";i:1717072923;s:2:\"ip\";s:9:\"127.0.0.1\";s:2:\"ua\";s:11:\"Mozilla/5.0\";s:5:\"login\";i:1716900123;}}' WHERE `user_id` = 1 AND `meta_key` = 'session_tokens'
;;
SELECT umeta_id FROM wp_usermeta WHERE meta_key = 'wp_user-settings-time' AND user_id = 1
;;
INSERT INTO `wp_usermeta` (`user_id`, `meta_key`, `meta_value`) VALUES (1, 'wp_dashboard_quick_press_last_post_id', '4')
;;
SELECT SQL_CALC_FOUND_ROWS  wp_posts.ID
					 FROM wp_posts 
					 WHERE 1=1  AND ((wp_posts.post_type = 'post' AND (wp_posts.post_status = 'publish')))
					 
					 ORDER BY wp_posts.post_date DESC
					 LIMIT 0, 10
;;
SELECT FOUND_ROWS()
;;
SELECT wp_posts.* FROM wp_posts WHERE ID IN (5,4,1)
;;
SELECT   wp_posts.*
					 FROM wp_posts 
					 WHERE 1=1  AND wp_posts.post_name = 'hello-world' AND wp_posts.post_type = 'post'
					 
					 ORDER BY wp_posts.post_date DESC
;;
SELECT   wp_posts.*
					 FROM wp_posts 
					 WHERE 1=1  AND wp_posts.ID = 2 AND wp_posts.post_type = 'page'
					 
					 ORDER BY wp_posts.post_date DESC
;;
SELECT SQL_CALC_FOUND_ROWS  wp_posts.ID
					 FROM wp_posts  LEFT JOIN wp_term_relationships ON (wp_posts.ID = wp_term_relationships.object_id)
					 WHERE 1=1  AND ( 
  wp_term_relationships.term_taxonomy_id IN (1)
) AND ((wp_posts.post_type = 'post' AND (wp_posts.post_status = 'publish' OR wp_posts.post_status = 'private')))
					 GROUP BY wp_posts.ID
					 ORDER BY wp_posts.post_date DESC
					 LIMIT 0, 10
;;
SELECT SQL_CALC_FOUND_ROWS  wp_posts.ID
					 FROM wp_posts 
					 WHERE 1=1  AND (((wp_posts.post_title LIKE '%hello%') OR (wp_posts.post_excerpt LIKE '%hello%') OR (wp_posts.post_content LIKE '%hello%')))  AND ((wp_posts.post_type = 'post' AND (wp_posts.post_status = 'publish')) OR (wp_posts.post_type = 'page' AND (wp_posts.post_status = 'publish')) OR (wp_posts.post_type = 'attachment' AND (wp_posts.post_status = 'publish')))
					 
					 ORDER BY (CASE WHEN wp_posts.post_title LIKE '%hello%' THEN 1 WHEN wp_posts.post_excerpt LIKE '%hello%' THEN 4 WHEN wp_posts.post_content LIKE '%hello%' THEN 5 ELSE 6 END), wp_posts.post_date DESC
					 LIMIT 0, 10
;;
SELECT   wp_posts.ID
					 FROM wp_posts 
					 WHERE 1=1  AND wp_posts.post_parent = 0  AND wp_posts.post_type = 'wp_global_styles' AND ((wp_posts.post_status = 'publish'))
					 
					 ORDER BY wp_posts.post_date DESC
					 LIMIT 0, 1
;;
SELECT   wp_posts.ID
					 FROM wp_posts  LEFT JOIN wp_term_relationships ON (wp_posts.ID = wp_term_relationships.object_id)
					 WHERE 1=1  AND ( 
  wp_term_relationships.term_taxonomy_id IN (2)
) AND wp_posts.post_name IN ('header','footer') AND wp_posts.post_type = 'wp_template_part' AND ((wp_posts.post_status = 'publish'))
					 GROUP BY wp_posts.ID
					 ORDER BY wp_posts.post_date DESC
					 
;;
SELECT post_id, meta_key, meta_value FROM wp_postmeta WHERE post_id IN (1,2,5) ORDER BY meta_id ASC
;;
SELECT p.ID FROM wp_posts AS p INNER JOIN wp_postmeta AS pm ON p.ID = pm.post_id WHERE pm.meta_key = '_wp_old_slug' AND pm.meta_value = 'hello-world' AND p.post_type = 'post'
;;
SELECT ID, post_name, post_parent, post_type
					FROM wp_posts
					WHERE post_name IN ('sample-page')
					AND post_type IN ('page','attachment')
;;
SELECT  t.term_id, tt.parent, tt.count, tt.taxonomy FROM wp_terms AS t  INNER JOIN wp_term_taxonomy AS tt ON t.term_id = tt.term_id WHERE tt.taxonomy IN ('category') AND tt.count > 0 ORDER BY t.name ASC 
;;
SELECT  t.*, tt.* FROM wp_terms AS t  INNER JOIN wp_term_taxonomy AS tt ON t.term_id = tt.term_id WHERE t.term_id IN ( 1 )
;;
SELECT t.*, tt.*, tr.object_id FROM wp_terms AS t  INNER JOIN wp_term_taxonomy AS tt ON t.term_id = tt.term_id INNER JOIN wp_term_relationships AS tr ON tr.term_taxonomy_id = tt.term_taxonomy_id WHERE tt.taxonomy IN ('category', 'post_tag', 'post_format') AND tr.object_id IN (1, 5) ORDER BY t.name ASC
;;
SELECT term_id, meta_key, meta_value FROM wp_termmeta WHERE term_id IN (1) ORDER BY meta_id ASC
;;
SELECT tr.object_id FROM wp_term_relationships AS tr INNER JOIN wp_term_taxonomy AS tt ON tr.term_taxonomy_id = tt.term_taxonomy_id WHERE tt.taxonomy IN ('category') AND tt.term_id IN ('1') ORDER BY tr.object_id ASC
;;
SELECT t.term_id, t.slug, tt.term_taxonomy_id, tt.taxonomy FROM wp_terms AS t INNER JOIN wp_term_taxonomy AS tt ON ( tt.term_id = t.term_id ) WHERE t.slug = 'news' AND tt.parent = 0 AND tt.taxonomy = 'category' AND t.term_id < 3 AND tt.term_taxonomy_id != 3
;;
INSERT INTO `wp_terms` (`name`, `slug`, `term_group`) VALUES ('News', 'news', 0)
;;
INSERT INTO `wp_term_taxonomy` (`term_id`, `taxonomy`, `description`, `parent`, `count`) VALUES (3, 'category', '', 0, 0)
;;
INSERT INTO `wp_term_relationships` (`object_id`, `term_taxonomy_id`) VALUES (5, 3)
;;
UPDATE wp_term_taxonomy SET count = 1 WHERE term_taxonomy_id = 3
;;
SELECT COUNT(*) FROM wp_term_relationships, wp_posts WHERE wp_posts.ID = wp_term_relationships.object_id AND post_status IN ('publish') AND post_type IN ('post') AND term_taxonomy_id = 3
;;
INSERT INTO `wp_posts` (`post_author`, `post_date`, `post_date_gmt`, `post_content`, `post_content_filtered`, `post_title`, `post_excerpt`, `post_status`, `post_type`, `comment_status`, `ping_status`, `post_password`, `post_name`, `to_ping`, `pinged`, `post_modified`, `post_modified_gmt`, `post_parent`, `menu_order`, `post_mime_type`, `guid`) VALUES (1, '2024-05-28 12:42:03', '0000-00-00 00:00:00', '', '', 'Auto Draft', '', 'auto-draft', 'post', 'open', 'open', '', '', '', '', '2024-05-28 12:42:03', '0000-00-00 00:00:00', 0, 0, '', '')
;;
UPDATE `wp_posts` SET `guid` = 'http://127.0.0.1:8080/?p=5' WHERE `ID` = 5
;;
UPDATE `wp_posts` SET `post_author` = 1, `post_date` = '2024-05-28 12:43:10', `post_date_gmt` = '2024-05-28 12:43:10', `post_content` = '<!-- wp:paragraph -->\n<p>Hello from sqlyard; it''s \"quoted\" -- not a comment.</p>\n<!-- /wp:paragraph -->', `post_content_filtered` = '', `post_title` = 'A post', `post_excerpt` = '', `post_status` = 'publish', `post_type` = 'post', `comment_status` = 'open', `ping_status` = 'open', `post_password` = '', `post_name` = 'a-post', `to_ping` = '', `pinged` = '', `post_modified` = '2024-05-28 12:43:10', `post_modified_gmt` = '2024-05-28 12:43:10', `post_parent` = 0, `menu_order` = 0, `post_mime_type` = '', `guid` = 'http://127.0.0.1:8080/?p=5' WHERE `ID` = 5
;;
SELECT post_name FROM wp_posts WHERE post_name = 'a-post' AND post_type = 'post' AND ID != 5 LIMIT 1
;;
SELECT meta_id FROM wp_postmeta WHERE meta_key = '_edit_lock' AND post_id = 5
;;
INSERT INTO `wp_postmeta` (`post_id`, `meta_key`, `meta_value`) VALUES (5, '_edit_lock', '1716900190:1')
;;
UPDATE `wp_postmeta` SET `meta_value` = '1716900250:1' WHERE `post_id` = 5 AND `meta_key` = '_edit_lock'
;;
DELETE FROM wp_postmeta WHERE meta_id IN( 12 )
;;
SELECT ID FROM wp_posts WHERE post_type = 'post' AND post_status = 'auto-draft' AND DATE_SUB( NOW(), INTERVAL 7 DAY ) > post_date
;;
SELECT post_status, COUNT( * ) AS num_posts FROM wp_posts WHERE post_type = 'post' GROUP BY post_status
;;
SELECT DISTINCT YEAR( post_date ) AS year, MONTH( post_date ) AS month FROM wp_posts WHERE post_type = 'post' ORDER BY post_date DESC
;;
SELECT YEAR(post_date) AS `year`, MONTH(post_date) AS `month`, count(ID) as posts FROM wp_posts  WHERE post_type = 'post' AND post_status = 'publish' GROUP BY YEAR(post_date), MONTH(post_date) ORDER BY post_date DESC 
;;
SELECT SQL_CALC_FOUND_ROWS wp_comments.comment_ID FROM wp_comments  WHERE ( comment_approved = '1' ) AND  comment_post_ID = 1 AND  comment_parent = 0  ORDER BY wp_comments.comment_date_gmt ASC, wp_comments.comment_ID ASC 
;;
SELECT wp_comments.comment_ID FROM wp_comments  WHERE ( comment_approved = '1' ) AND  comment_post_ID = 1 AND  comment_parent IN ( 1 )  ORDER BY wp_comments.comment_date_gmt ASC, wp_comments.comment_ID ASC 
;;
SELECT wp_comments.* FROM wp_comments WHERE comment_ID IN (1,2)
;;
SELECT comment_id, meta_key, meta_value FROM wp_commentmeta WHERE comment_id IN (2) ORDER BY meta_id ASC
;;
SELECT comment_approved, COUNT( * ) AS total
		FROM wp_comments
		
		GROUP BY comment_approved
;;
SELECT comment_ID FROM wp_comments WHERE comment_post_ID = 5 AND comment_parent = '0' AND comment_approved != 'trash' AND ( comment_author = 'A reader' OR comment_author_email = 'reader@example.org' ) AND comment_content = 'Nice post!' LIMIT 1
;;
SELECT comment_date_gmt FROM wp_comments WHERE comment_date_gmt >= '2024-05-28 12:44:00' AND ( comment_author_IP = '127.0.0.1' OR comment_author_email = 'reader@example.org' ) ORDER BY comment_date_gmt DESC LIMIT 1
;;
INSERT INTO `wp_comments` (`comment_post_ID`, `comment_author_IP`, `comment_author`, `comment_author_email`, `comment_author_url`, `comment_content`, `comment_karma`, `comment_approved`, `comment_agent`, `comment_type`, `comment_parent`, `user_id`, `comment_date`, `comment_date_gmt`) VALUES (5, '127.0.0.1', 'A reader', 'reader@example.org', '', 'Nice post! Isn''t it; really?', 0, '1', 'Mozilla/5.0 (X11; Linux x86_64)', 'comment', 0, 0, '2024-05-28 12:44:12', '2024-05-28 12:44:12')
;;
SELECT COUNT(comment_ID) FROM wp_comments WHERE comment_post_ID = 5 AND comment_approved = '1'
;;
UPDATE `wp_posts` SET `comment_count` = 1 WHERE `ID` = 5
;;
SELECT  wp_comments.comment_ID
			FROM wp_comments JOIN wp_posts ON wp_posts.ID = wp_comments.comment_post_ID
			WHERE ( comment_approved = '1' ) AND  wp_posts.post_status IN ('publish')
			ORDER BY wp_comments.comment_date_gmt DESC
			LIMIT 0,5
;;
SELECT wp_users.ID,wp_users.user_login,wp_users.display_name
			FROM wp_users INNER JOIN wp_usermeta ON ( wp_users.ID = wp_usermeta.user_id )
			WHERE 1=1 AND ( 
  ( wp_usermeta.meta_key = 'wp_capabilities' AND wp_usermeta.meta_value LIKE '%\"administrator\"%' )
)
			ORDER BY display_name ASC
;;
SELECT COUNT(NULLIF(`meta_value` LIKE '%\"administrator\"%', false)), COUNT(NULLIF(`meta_value` = 'a:0:{}', false)), COUNT(*) FROM wp_usermeta INNER JOIN wp_users ON user_id = ID WHERE meta_key = 'wp_capabilities'
;;
SELECT * FROM wp_posts WHERE (post_type = 'page' AND post_status = 'publish') ORDER BY menu_order,wp_posts.post_title ASC
;;
SELECT p.ID FROM wp_posts AS p  WHERE p.post_date < '2024-05-28 12:43:10' AND p.post_type = 'post' AND ( p.post_status = 'publish' OR p.post_status = 'private' ) ORDER BY p.post_date DESC LIMIT 1
;;
SELECT ID FROM wp_posts WHERE post_type = 'wp_navigation' AND post_status = 'publish' ORDER BY post_date DESC LIMIT 1
;;
SHOW FULL COLUMNS FROM `wp_posts`
;;
SHOW TABLES LIKE 'wp\\_users'
;;
SELECT VERSION()
;;
DESCRIBE wp_options
;;
SELECT option_value FROM wp_options WHERE option_name = 'db_version' LIMIT 1
;;
SELECT meta_value FROM wp_sitemeta WHERE meta_key = 'dismissed_update_core' AND site_id = 1
;;
SELECT GET_LOCK('wp_cron_lock', 0)
;;
SELECT LAST_INSERT_ID()
;;
START TRANSACTION
;;
COMMIT
;;
SELECT * FROM wp_options WHERE option_name = 'cron' FOR UPDATE
;;
SELECT /* sqlyard:primary */ option_value FROM wp_options WHERE option_name = 'siteurl' LIMIT 1
