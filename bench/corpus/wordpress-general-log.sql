SET NAMES utf8mb4
;;
SET NAMES 'utf8mb4' COLLATE 'utf8mb4_unicode_520_ci'
;;
SELECT @@SESSION.sql_mode
;;
SET SESSION sql_mode='ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION'
;;
SELECT option_value FROM wp_options WHERE option_name = 'siteurl'
;;
DESCRIBE wp_users
;;
DESCRIBE wp_usermeta
;;
DESCRIBE wp_posts
;;
DESCRIBE wp_comments
;;
DESCRIBE wp_links
;;
DESCRIBE wp_options
;;
DESCRIBE wp_postmeta
;;
DESCRIBE wp_terms
;;
DESCRIBE wp_term_taxonomy
;;
DESCRIBE wp_term_relationships
;;
DESCRIBE wp_termmeta
;;
DESCRIBE wp_commentmeta
;;
SELECT option_value FROM wp_options WHERE option_name = 'siteurl' LIMIT 1
;;
SHOW TABLES LIKE 'wp\\_users'
;;
CREATE TABLE wp_users (
	ID bigint(20) unsigned NOT NULL auto_increment,
	user_login varchar(60) NOT NULL default '',
	user_pass varchar(255) NOT NULL default '',
	user_nicename varchar(50) NOT NULL default '',
	user_email varchar(100) NOT NULL default '',
	user_url varchar(100) NOT NULL default '',
	user_registered datetime NOT NULL default '0000-00-00 00:00:00',
	user_activation_key varchar(255) NOT NULL default '',
	user_status int(11) NOT NULL default '0',
	display_name varchar(250) NOT NULL default '',
	PRIMARY KEY  (ID),
	KEY user_login_key (user_login),
	KEY user_nicename (user_nicename),
	KEY user_email (user_email)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci
;;
CREATE TABLE wp_usermeta (
	umeta_id bigint(20) unsigned NOT NULL auto_increment,
	user_id bigint(20) unsigned NOT NULL default '0',
	meta_key varchar(255) default NULL,
	meta_value longtext,
	PRIMARY KEY  (umeta_id),
	KEY user_id (user_id),
	KEY meta_key (meta_key(191))
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci
;;
CREATE TABLE wp_termmeta (
	meta_id bigint(20) unsigned NOT NULL auto_increment,
	term_id bigint(20) unsigned NOT NULL default '0',
	meta_key varchar(255) default NULL,
	meta_value longtext,
	PRIMARY KEY  (meta_id),
	KEY term_id (term_id),
	KEY meta_key (meta_key(191))
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci
;;
CREATE TABLE wp_terms (
 term_id bigint(20) unsigned NOT NULL auto_increment,
 name varchar(200) NOT NULL default '',
 slug varchar(200) NOT NULL default '',
 term_group bigint(10) NOT NULL default 0,
 PRIMARY KEY  (term_id),
 KEY slug (slug(191)),
 KEY name (name(191))
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci
;;
CREATE TABLE wp_term_taxonomy (
 term_taxonomy_id bigint(20) unsigned NOT NULL auto_increment,
 term_id bigint(20) unsigned NOT NULL default 0,
 taxonomy varchar(32) NOT NULL default '',
 description longtext NOT NULL,
 parent bigint(20) unsigned NOT NULL default 0,
 count bigint(20) NOT NULL default 0,
 PRIMARY KEY  (term_taxonomy_id),
 UNIQUE KEY term_id_taxonomy (term_id,taxonomy),
 KEY taxonomy (taxonomy)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci
;;
CREATE TABLE wp_term_relationships (
 object_id bigint(20) unsigned NOT NULL default 0,
 term_taxonomy_id bigint(20) unsigned NOT NULL default 0,
 term_order int(11) NOT NULL default 0,
 PRIMARY KEY  (object_id,term_taxonomy_id),
 KEY term_taxonomy_id (term_taxonomy_id)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci
;;
CREATE TABLE wp_commentmeta (
	meta_id bigint(20) unsigned NOT NULL auto_increment,
	comment_id bigint(20) unsigned NOT NULL default '0',
	meta_key varchar(255) default NULL,
	meta_value longtext,
	PRIMARY KEY  (meta_id),
	KEY comment_id (comment_id),
	KEY meta_key (meta_key(191))
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci
;;
CREATE TABLE wp_comments (
	comment_ID bigint(20) unsigned NOT NULL auto_increment,
	comment_post_ID bigint(20) unsigned NOT NULL default '0',
	comment_author tinytext NOT NULL,
	comment_author_email varchar(100) NOT NULL default '',
	comment_author_url varchar(200) NOT NULL default '',
	comment_author_IP varchar(100) NOT NULL default '',
	comment_date datetime NOT NULL default '0000-00-00 00:00:00',
	comment_date_gmt datetime NOT NULL default '0000-00-00 00:00:00',
	comment_content text NOT NULL,
	comment_karma int(11) NOT NULL default '0',
	comment_approved varchar(20) NOT NULL default '1',
	comment_agent varchar(255) NOT NULL default '',
	comment_type varchar(20) NOT NULL default 'comment',
	comment_parent bigint(20) unsigned NOT NULL default '0',
	user_id bigint(20) unsigned NOT NULL default '0',
	PRIMARY KEY  (comment_ID),
	KEY comment_post_ID (comment_post_ID),
	KEY comment_approved_date_gmt (comment_approved,comment_date_gmt),
	KEY comment_date_gmt (comment_date_gmt),
	KEY comment_parent (comment_parent),
	KEY comment_author_email (comment_author_email(10))
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci
;;
CREATE TABLE wp_links (
	link_id bigint(20) unsigned NOT NULL auto_increment,
	link_url varchar(255) NOT NULL default '',
	link_name varchar(255) NOT NULL default '',
	link_image varchar(255) NOT NULL default '',
	link_target varchar(25) NOT NULL default '',
	link_description varchar(255) NOT NULL default '',
	link_visible varchar(20) NOT NULL default 'Y',
	link_owner bigint(20) unsigned NOT NULL default '1',
	link_rating int(11) NOT NULL default '0',
	link_updated datetime NOT NULL default '0000-00-00 00:00:00',
	link_rel varchar(255) NOT NULL default '',
	link_notes mediumtext NOT NULL,
	link_rss varchar(255) NOT NULL default '',
	PRIMARY KEY  (link_id),
	KEY link_visible (link_visible)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci
;;
CREATE TABLE wp_options (
	option_id bigint(20) unsigned NOT NULL auto_increment,
	option_name varchar(191) NOT NULL default '',
	option_value longtext NOT NULL,
	autoload varchar(20) NOT NULL default 'yes',
	PRIMARY KEY  (option_id),
	UNIQUE KEY option_name (option_name),
	KEY autoload (autoload)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci
;;
CREATE TABLE wp_postmeta (
	meta_id bigint(20) unsigned NOT NULL auto_increment,
	post_id bigint(20) unsigned NOT NULL default '0',
	meta_key varchar(255) default NULL,
	meta_value longtext,
	PRIMARY KEY  (meta_id),
	KEY post_id (post_id),
	KEY meta_key (meta_key(191))
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci
;;
CREATE TABLE wp_posts (
	ID bigint(20) unsigned NOT NULL auto_increment,
	post_author bigint(20) unsigned NOT NULL default '0',
	post_date datetime NOT NULL default '0000-00-00 00:00:00',
	post_date_gmt datetime NOT NULL default '0000-00-00 00:00:00',
	post_content longtext NOT NULL,
	post_title text NOT NULL,
	post_excerpt text NOT NULL,
	post_status varchar(20) NOT NULL default 'publish',
	comment_status varchar(20) NOT NULL default 'open',
	ping_status varchar(20) NOT NULL default 'open',
	post_password varchar(255) NOT NULL default '',
	post_name varchar(200) NOT NULL default '',
	to_ping text NOT NULL,
	pinged text NOT NULL,
	post_modified datetime NOT NULL default '0000-00-00 00:00:00',
	post_modified_gmt datetime NOT NULL default '0000-00-00 00:00:00',
	post_content_filtered longtext NOT NULL,
	post_parent bigint(20) unsigned NOT NULL default '0',
	guid varchar(255) NOT NULL default '',
	menu_order int(11) NOT NULL default '0',
	post_type varchar(20) NOT NULL default 'post',
	post_mime_type varchar(100) NOT NULL default '',
	comment_count bigint(20) NOT NULL default '0',
	PRIMARY KEY  (ID),
	KEY post_name (post_name(191)),
	KEY type_status_date (post_type,post_status,post_date,ID),
	KEY post_parent (post_parent),
	KEY post_author (post_author)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci
;;
SELECT option_name FROM wp_options WHERE option_name in ( 'siteurl', 'home', 'blogname', 'blogdescription', 'users_can_register', 'admin_email', 'start_of_week', 'use_balanceTags', 'use_smilies', 'require_name_email', 'comments_notify', 'posts_per_rss', 'rss_use_excerpt', 'mailserver_url', 'mailserver_login', 'mailserver_pass', 'mailserver_port', 'default_category', 'default_comment_status', 'default_ping_status', 'default_pingback_flag', 'posts_per_page', 'date_format', 'time_format', 'links_updated_date_format', 'comment_moderation', 'moderation_notify', 'permalink_structure', 'rewrite_rules', 'hack_file', 'blog_charset', 'moderation_keys', 'active_plugins', 'category_base', 'ping_sites', 'comment_max_links', 'gmt_offset', 'default_email_category', 'recently_edited', 'template', 'stylesheet', 'comment_registration', 'html_type', 'use_trackback', 'default_role', 'db_version', 'uploads_use_yearmonth_folders', 'upload_path', 'blog_public', 'default_link_category', 'show_on_front', 'tag_base', 'show_avatars', 'avatar_rating', 'upload_url_path', 'thumbnail_size_w', 'thumbnail_size_h', 'thumbnail_crop', 'medium_size_w', 'medium_size_h', 'avatar_default', 'large_size_w', 'large_size_h', 'image_default_link_type', 'image_default_size', 'image_default_align', 'close_comments_for_old_posts', 'close_comments_days_old', 'thread_comments', 'thread_comments_depth', 'page_comments', 'comments_per_page', 'default_comments_page', 'comment_order', 'sticky_posts', 'widget_categories', 'widget_text', 'widget_rss', 'uninstall_plugins', 'timezone_string', 'page_for_posts', 'page_on_front', 'default_post_format', 'link_manager_enabled', 'finished_splitting_shared_terms', 'site_icon', 'medium_large_size_w', 'medium_large_size_h', 'wp_page_for_privacy_policy', 'show_comments_cookies_opt_in', 'admin_email_lifespan', 'disallowed_keys', 'comment_previously_approved', 'auto_plugin_theme_update_emails', 'auto_update_core_dev', 'auto_update_core_minor', 'auto_update_core_major', 'wp_force_deactivated_plugins', 'initial_db_version' )
;;
SHOW FULL COLUMNS FROM `wp_options`
;;
INSERT INTO wp_options (option_name, option_value, autoload) VALUES ('siteurl', 'http://127.0.0.1:30825', 'yes'), ('home', 'http://127.0.0.1:30825', 'yes'), ('blogname', 'My Site', 'yes'), ('blogdescription', '', 'yes'), ('users_can_register', '0', 'yes'), ('admin_email', 'you@example.com', 'yes'), ('start_of_week', '1', 'yes'), ('use_balanceTags', '0', 'yes'), ('use_smilies', '1', 'yes'), ('require_name_email', '1', 'yes'), ('comments_notify', '1', 'yes'), ('posts_per_rss', '10', 'yes'), ('rss_use_excerpt', '0', 'yes'), ('mailserver_url', 'mail.example.com', 'yes'), ('mailserver_login', 'login@example.com', 'yes'), ('mailserver_pass', 'password', 'yes'), ('mailserver_port', '110', 'yes'), ('default_category', '1', 'yes'), ('default_comment_status', 'open', 'yes'), ('default_ping_status', 'open', 'yes'), ('default_pingback_flag', '1', 'yes'), ('posts_per_page', '10', 'yes'), ('date_format', 'F j, Y', 'yes'), ('time_format', 'g:i a', 'yes'), ('links_updated_date_format', 'F j, Y g:i a', 'yes'), ('comment_moderation', '0', 'yes'), ('moderation_notify', '1', 'yes'), ('permalink_structure', '', 'yes'), ('rewrite_rules', '', 'yes'), ('hack_file', '0', 'yes'), ('blog_charset', 'UTF-8', 'yes'), ('moderation_keys', '', 'no'), ('active_plugins', 'a:0:{}', 'yes'), ('category_base', '', 'yes'), ('ping_sites', 'http://rpc.pingomatic.com/', 'yes'), ('comment_max_links', '2', 'yes'), ('gmt_offset', '0', 'yes'), ('default_email_category', '1', 'yes'), ('recently_edited', '', 'no'), ('template', 'twentytwentythree', 'yes'), ('stylesheet', 'twentytwentythree', 'yes'), ('comment_registration', '0', 'yes'), ('html_type', 'text/html', 'yes'), ('use_trackback', '0', 'yes'), ('default_role', 'subscriber', 'yes'), ('db_version', '53496', 'yes'), ('uploads_use_yearmonth_folders', '1', 'yes'), ('upload_path', '', 'yes'), ('blog_public', '1', 'yes'), ('default_link_category', '2', 'yes'), ('show_on_front', 'posts', 'yes'), ('tag_base', '', 'yes'), ('show_avatars', '1', 'yes'), ('avatar_rating', 'G', 'yes'), ('upload_url_path', '', 'yes'), ('thumbnail_size_w', '150', 'yes'), ('thumbnail_size_h', '150', 'yes'), ('thumbnail_crop', '1', 'yes'), ('medium_size_w', '300', 'yes'), ('medium_size_h', '300', 'yes'), ('avatar_default', 'mystery', 'yes'), ('large_size_w', '1024', 'yes'), ('large_size_h', '1024', 'yes'), ('image_default_link_type', 'none', 'yes'), ('image_default_size', '', 'yes'), ('image_default_align', '', 'yes'), ('close_comments_for_old_posts', '0', 'yes'), ('close_comments_days_old', '14', 'yes'), ('thread_comments', '1', 'yes'), ('thread_comments_depth', '5', 'yes'), ('page_comments', '0', 'yes'), ('comments_per_page', '50', 'yes'), ('default_comments_page', 'newest', 'yes'), ('comment_order', 'asc', 'yes'), ('sticky_posts', 'a:0:{}', 'yes'), ('widget_categories', 'a:0:{}', 'yes'), ('widget_text', 'a:0:{}', 'yes'), ('widget_rss', 'a:0:{}', 'yes'), ('uninstall_plugins', 'a:0:{}', 'no'), ('timezone_string', '', 'yes'), ('page_for_posts', '0', 'yes'), ('page_on_front', '0', 'yes'), ('default_post_format', '0', 'yes'), ('link_manager_enabled', '0', 'yes'), ('finished_splitting_shared_terms', '1', 'yes'), ('site_icon', '0', 'yes'), ('medium_large_size_w', '768', 'yes'), ('medium_large_size_h', '0', 'yes'), ('wp_page_for_privacy_policy', '0', 'yes'), ('show_comments_cookies_opt_in', '1', 'yes'), ('admin_email_lifespan', '1811261320', 'yes'), ('disallowed_keys', '', 'no'), ('comment_previously_approved', '1', 'yes'), ('auto_plugin_theme_update_emails', 'a:0:{}', 'no'), ('auto_update_core_dev', 'enabled', 'yes'), ('auto_update_core_minor', 'enabled', 'yes'), ('auto_update_core_major', 'enabled', 'yes'), ('wp_force_deactivated_plugins', 'a:0:{}', 'yes'), ('initial_db_version', '53496', 'yes')
;;
SELECT autoload FROM wp_options WHERE option_name = 'blodotgsping_url'
;;
DELETE FROM wp_options WHERE option_name REGEXP '^rss_[0-9a-f]{32}(_ts)?$'
;;
DELETE a, b FROM wp_options a, wp_options b
			WHERE a.option_name LIKE '\\_transient\\_%'
			AND a.option_name NOT LIKE '\\_transient\\_timeout\\_%'
			AND b.option_name = CONCAT( '_transient_timeout_', SUBSTRING( a.option_name, 12 ) )
			AND b.option_value < 1795709320
;;
INSERT INTO `wp_options` (`option_name`, `option_value`, `autoload`) VALUES ('wp_user_roles', 'a:1:{s:13:\"administrator\";a:2:{s:4:\"name\";s:13:\"Administrator\";s:12:\"capabilities\";a:0:{}}}', 'yes') ON DUPLICATE KEY UPDATE `option_name` = VALUES(`option_name`), `option_value` = VALUES(`option_value`), `autoload` = VALUES(`autoload`)
;;
UPDATE `wp_options` SET `option_value` = 'a:2:{s:13:\"administrator\";a:2:{s:4:\"name\";s:13:\"Administrator\";s:12:\"capabilities\";a:0:{}}s:6:\"editor\";a:2:{s:4:\"name\";s:6:\"Editor\";s:12:\"capabilities\";a:0:{}}}' WHERE `option_name` = 'wp_user_roles'
;;
SELECT * FROM wp_users WHERE user_login = 'admin' LIMIT 1
;;
SELECT ID FROM wp_users WHERE user_nicename = 'admin' AND user_login != 'admin' LIMIT 1
;;
SELECT * FROM wp_users WHERE user_email = 'admin@example.test' LIMIT 1
;;
SHOW FULL COLUMNS FROM `wp_users`
;;
INSERT INTO `wp_users` (`user_pass`, `user_nicename`, `user_email`, `user_url`, `user_registered`, `user_activation_key`, `display_name`, `user_login`) VALUES ('$P$BD2NuPutQkWDikdmony8ZfvR8IyzHS/', 'admin', 'admin@example.test', '', '2026-11-26 16:08:40', '', 'admin', 'admin')
;;
SELECT * FROM wp_users WHERE ID = '1' LIMIT 1
;;
SELECT user_id, meta_key, meta_value FROM wp_usermeta WHERE user_id IN (1) ORDER BY umeta_id ASC
;;
SELECT umeta_id FROM wp_usermeta WHERE meta_key = 'nickname' AND user_id = 1
;;
SHOW FULL COLUMNS FROM `wp_usermeta`
;;
INSERT INTO `wp_usermeta` (`user_id`, `meta_key`, `meta_value`) VALUES (1, 'nickname', 'admin')
;;
SELECT COUNT(ID) as c FROM wp_users
;;
UPDATE `wp_usermeta` SET `meta_value` = 'a:1:{s:13:\"administrator\";b:1;}' WHERE `user_id` = 1 AND `meta_key` = 'wp_capabilities'
;;
UPDATE `wp_users` SET `user_pass` = '$P$BD2NuPutQkWDikdmony8ZfvR8IyzHS/', `user_nicename` = 'admin', `user_email` = 'admin@example.test', `user_url` = 'http://127.0.0.1:30825', `user_registered` = '2026-11-26 16:08:40', `user_activation_key` = '', `display_name` = 'admin' WHERE `ID` = 1
;;
SHOW FULL COLUMNS FROM `wp_terms`
;;
INSERT INTO `wp_terms` (`term_id`, `name`, `slug`, `term_group`) VALUES (1, 'Uncategorized', 'uncategorized', 0)
;;
SHOW FULL COLUMNS FROM `wp_term_taxonomy`
;;
INSERT INTO `wp_term_taxonomy` (`term_id`, `taxonomy`, `description`, `parent`, `count`) VALUES (1, 'category', '', 0, 1)
;;
SHOW FULL COLUMNS FROM `wp_posts`
;;
INSERT INTO `wp_posts` (`post_author`, `post_date`, `post_date_gmt`, `post_content`, `post_excerpt`, `post_title`, `post_name`, `post_modified`, `post_modified_gmt`, `guid`, `comment_count`, `to_ping`, `pinged`, `post_content_filtered`) VALUES (1, '2026-11-26 16:08:40', '2026-11-26 16:08:40', '<!-- wp:paragraph -->\n<p>Welcome to WordPress. This is your first post. Edit or delete it, then start writing!</p>\n<!-- /wp:paragraph -->', '', 'Hello world!', 'hello-world', '2026-11-26 16:08:40', '2026-11-26 16:08:40', 'http://127.0.0.1:30825/?p=1', 1, '', '', '')
;;
INSERT INTO `wp_term_relationships` (`term_taxonomy_id`, `object_id`) VALUES (1, 1)
;;
SHOW FULL COLUMNS FROM `wp_comments`
;;
INSERT INTO `wp_comments` (`comment_post_ID`, `comment_author`, `comment_author_email`, `comment_author_url`, `comment_date`, `comment_date_gmt`, `comment_content`, `comment_type`) VALUES (1, 'A WordPress Commenter', 'wapuu@wordpress.example', 'https://wordpress.org/', '2026-11-26 16:08:40', '2026-11-26 16:08:40', 'Hi, this is a comment.\nTo get started with moderating, editing, and deleting comments, please visit the Comments screen in the dashboard.\nCommenter avatars come from <a href=\"https://en.gravatar.com/\">Gravatar</a>.', 'comment')
;;
INSERT INTO `wp_posts` (`post_author`, `post_date`, `post_date_gmt`, `post_content`, `post_excerpt`, `comment_status`, `post_title`, `post_name`, `post_modified`, `post_modified_gmt`, `guid`, `post_type`, `to_ping`, `pinged`, `post_content_filtered`) VALUES (1, '2026-11-26 16:08:40', '2026-11-26 16:08:40', '<!-- wp:paragraph -->\n<p>This is an example page. It\'s different from a blog post because it will stay in one place and will show up in your site navigation (in most themes). Most people start with an About page that introduces them to potential site visitors. It might say something like this:</p>\n<!-- /wp:paragraph -->\n\n<!-- wp:quote -->\n<blockquote class=\"wp-block-quote\"><p>Hi there! I\'m a bike messenger by day, aspiring actor by night, and this is my website. I live in Los Angeles, have a great dog named Jack, and I like pi&#241;a coladas. (And gettin\' caught in the rain.)</p></blockquote>\n<!-- /wp:quote -->\n\n<!-- wp:paragraph -->\n<p>...or something like this:</p>\n<!-- /wp:paragraph -->\n\n<!-- wp:quote -->\n<blockquote class=\"wp-block-quote\"><p>The XYZ Doohickey Company was founded in 1971, and has been providing quality doohickeys to the public ever since. Located in Gotham City, XYZ employs over 2,000 people and does all kinds of awesome things for the Gotham community.</p></blockquote>\n<!-- /wp:quote -->\n\n<!-- wp:paragraph -->\n<p>As a new WordPress user, you should go to <a href=\"http://127.0.0.1:30825/wp-admin/\">your dashboard</a> to delete this page and create new pages for your content. Have fun!</p>\n<!-- /wp:paragraph -->', '', 'closed', 'Sample Page', 'sample-page', '2026-11-26 16:08:40', '2026-11-26 16:08:40', 'http://127.0.0.1:30825/?page_id=2', 'page', '', '', '')
;;
SHOW FULL COLUMNS FROM `wp_postmeta`
;;
INSERT INTO `wp_postmeta` (`post_id`, `meta_key`, `meta_value`) VALUES (2, '_wp_page_template', 'default')
;;
INSERT INTO `wp_posts` (`post_author`, `post_date`, `post_date_gmt`, `post_content`, `post_excerpt`, `comment_status`, `post_title`, `post_name`, `post_modified`, `post_modified_gmt`, `guid`, `post_type`, `post_status`, `to_ping`, `pinged`, `post_content_filtered`) VALUES (1, '2026-11-26 16:08:40', '2026-11-26 16:08:40', '<!-- wp:heading --><h2>Who we are</h2><!-- /wp:heading --><!-- wp:paragraph --><p><strong class=\"privacy-policy-tutorial\">Suggested text: </strong>Our website address is: http://127.0.0.1:30825.</p><!-- /wp:paragraph --><!-- wp:heading --><h2>Comments</h2><!-- /wp:heading --><!-- wp:paragraph --><p><strong class=\"privacy-policy-tutorial\">Suggested text: </strong>When visitors leave comments on the site we collect the data shown in the comments form, and also the visitor&#8217;s IP address and browser user agent string to help spam detection.</p><!-- /wp:paragraph --><!-- wp:paragraph --><p>An anonymized string created from your email address (also called a hash) may be provided to the Gravatar service to see if you are using it. The Gravatar service privacy policy is available here: https://automattic.com/privacy/. After approval of your comment, your profile picture is visible to the public in the context of your comment.</p><!-- /wp:paragraph --><!-- wp:heading --><h2>Media</h2><!-- /wp:heading --><!-- wp:paragraph --><p><strong class=\"privacy-policy-tutorial\">Suggested text: </strong>If you upload images to the website, you should avoid uploading images with embedded location data (EXIF GPS) included. Visitors to the website can download and extract any location data from images on the website.</p><!-- /wp:paragraph --><!-- wp:heading --><h2>Cookies</h2><!-- /wp:heading --><!-- wp:paragraph --><p><strong class=\"privacy-policy-tutorial\">Suggested text: </strong>If you leave a comment on our site you may opt-in to saving your name, email address and website in cookies. These are for your convenience so that you do not have to fill in your details again when you leave another comment. These cookies will last for one year.</p><!-- /wp:paragraph --><!-- wp:paragraph --><p>If you visit our login page, we will set a temporary cookie to determine if your browser accepts cookies. This cookie contains no personal data and is discarded when you close your browser.</p><!-- /wp:paragraph --><!-- wp:paragraph --><p>When you log in, we will also set up several cookies to save your login information and your screen display choices. Login cookies last for two days, and screen options cookies last for a year. If you select &quot;Remember Me&quot;, your login will persist for two weeks. If you log out of your account, the login cookies will be removed.</p><!-- /wp:paragraph --><!-- wp:paragraph --><p>If you edit or publish an article, an additional cookie will be saved in your browser. This cookie includes no personal data and simply indicates the post ID of the article you just edited. It expires after 1 day.</p><!-- /wp:paragraph --><!-- wp:heading --><h2>Embedded content from other websites</h2><!-- /wp:heading --><!-- wp:paragraph --><p><strong class=\"privacy-policy-tutorial\">Suggested text: </strong>Articles on this site may include embedded content (e.g. videos, images, articles, etc.). Embedded content from other websites behaves in the exact same way as if the visitor has visited the other website.</p><!-- /wp:paragraph --><!-- wp:paragraph --><p>These websites may collect data about you, use cookies, embed additional third-party tracking, and monitor your interaction with that embedded content, including tracking your interaction with the embedded content if you have an account and are logged in to that website.</p><!-- /wp:paragraph --><!-- wp:heading --><h2>Who we share your data with</h2><!-- /wp:heading --><!-- wp:paragraph --><p><strong class=\"privacy-policy-tutorial\">Suggested text: </strong>If you request a password reset, your IP address will be included in the reset email.</p><!-- /wp:paragraph --><!-- wp:heading --><h2>How long we retain your data</h2><!-- /wp:heading --><!-- wp:paragraph --><p><strong class=\"privacy-policy-tutorial\">Suggested text: </strong>If you leave a comment, the comment and its metadata are retained indefinitely. This is so we can recognize and approve any follow-up comments automatically instead of holding them in a moderation queue.</p><!-- /wp:paragraph --><!-- wp:paragraph --><p>For users that register on our website (if any), we also store the personal information they provide in their user profile. All users can see, edit, or delete their personal information at any time (except they cannot change their username). Website administrators can also see and edit that information.</p><!-- /wp:paragraph --><!-- wp:heading --><h2>What rights you have over your data</h2><!-- /wp:heading --><!-- wp:paragraph --><p><strong class=\"privacy-policy-tutorial\">Suggested text: </strong>If you have an account on this site, or have left comments, you can request to receive an exported file of the personal data we hold about you, including any data you have provided to us. You can also request that we erase any personal data we hold about you. This does not include any data we are obliged to keep for administrative, legal, or security purposes.</p><!-- /wp:paragraph --><!-- wp:heading --><h2>Where your data is sent</h2><!-- /wp:heading --><!-- wp:paragraph --><p><strong class=\"privacy-policy-tutorial\">Suggested text: </strong>Visitor comments may be checked through an automated spam detection service.</p><!-- /wp:paragraph -->', '', 'closed', 'Privacy Policy', 'privacy-policy', '2026-11-26 16:08:40', '2026-11-26 16:08:40', 'http://127.0.0.1:30825/?page_id=3', 'page', 'draft', '', '', '')
;;
SELECT ID, post_name, post_parent, post_type
		FROM wp_posts
		WHERE post_name IN ('hello-world')
		AND post_type IN ('post','attachment')
;;
SELECT * FROM wp_posts WHERE ID = 1 LIMIT 1
;;
SELECT option_name, option_value FROM wp_options WHERE autoload = 'yes'
;;
SELECT  t.term_id
			FROM wp_terms AS t  INNER JOIN wp_term_taxonomy AS tt ON t.term_id = tt.term_id
			WHERE tt.taxonomy IN ('wp_theme') AND t.name IN ('twentytwentythree')
			
			LIMIT 1
;;
SELECT   wp_posts.*
			FROM wp_posts 
			WHERE 1=1  AND ( 
  0 = 1
) AND wp_posts.post_type = 'wp_template_part' AND ((wp_posts.post_status = 'publish'))
			GROUP BY wp_posts.ID
			ORDER BY wp_posts.post_date DESC
;;
SELECT   wp_posts.ID
					FROM wp_posts 
					WHERE 1=1  AND ( 
  0 = 1
) AND wp_posts.post_type = 'wp_global_styles' AND ((wp_posts.post_status = 'publish'))
					GROUP BY wp_posts.ID
					ORDER BY wp_posts.post_date DESC
					LIMIT 0, 1
;;
SELECT   wp_posts.*
			FROM wp_posts 
			WHERE 1=1  AND ( 
  ( YEAR( wp_posts.post_date ) = 2026 AND MONTH( wp_posts.post_date ) = 11 AND DAYOFMONTH( wp_posts.post_date ) = 26 )
) AND wp_posts.post_name = 'hello-world' AND wp_posts.post_type = 'post'
			
			ORDER BY wp_posts.post_date DESC
;;
SELECT wp_posts.* FROM wp_posts WHERE ID IN (1)
;;
SELECT DISTINCT t.term_id, tr.object_id
			FROM wp_terms AS t  INNER JOIN wp_term_taxonomy AS tt ON t.term_id = tt.term_id INNER JOIN wp_term_relationships AS tr ON tr.term_taxonomy_id = tt.term_taxonomy_id
			WHERE tt.taxonomy IN ('category', 'post_tag', 'post_format') AND tr.object_id IN (1)
			ORDER BY t.name ASC
;;
SELECT t.*, tt.* FROM wp_terms AS t INNER JOIN wp_term_taxonomy AS tt ON t.term_id = tt.term_id WHERE t.term_id IN (1)
;;
SELECT post_id, meta_key, meta_value FROM wp_postmeta WHERE post_id IN (1) ORDER BY meta_id ASC
;;
SELECT   wp_posts.*
			FROM wp_posts 
			WHERE 1=1  AND wp_posts.post_name IN ('single-post-hello-world','single-post','single') AND ( 
  0 = 1
) AND wp_posts.post_type = 'wp_template' AND ((wp_posts.post_status = 'publish'))
			GROUP BY wp_posts.ID
			ORDER BY wp_posts.post_date DESC
;;
SELECT   wp_posts.ID
					FROM wp_posts 
					WHERE 1=1  AND wp_posts.post_name IN ('header') AND ( 
  0 = 1
) AND wp_posts.post_type = 'wp_template_part' AND ((wp_posts.post_status = 'publish'))
					GROUP BY wp_posts.ID
					ORDER BY wp_posts.post_date DESC
					LIMIT 0, 1
;;
SELECT   wp_posts.ID
					FROM wp_posts 
					WHERE 1=1  AND wp_posts.post_type = 'wp_navigation' AND ((wp_posts.post_status = 'publish'))
					
					ORDER BY wp_posts.post_date DESC
					LIMIT 0, 1
;;
SELECT * FROM wp_posts  WHERE (post_type = 'page' AND post_status = 'publish')     ORDER BY menu_order,wp_posts.post_title ASC
;;
SELECT * FROM wp_users WHERE ID IN (1)
;;
SELECT SQL_CALC_FOUND_ROWS wp_comments.comment_ID
			FROM wp_comments 
			WHERE ( comment_approved = '1' ) AND comment_post_ID = 1 AND comment_parent = 0
			
			ORDER BY wp_comments.comment_date_gmt ASC, wp_comments.comment_ID ASC
;;
SELECT wp_comments.* FROM wp_comments WHERE comment_ID IN (1)
;;
SELECT comment_id, meta_key, meta_value FROM wp_commentmeta WHERE comment_id IN (1) ORDER BY meta_id ASC
;;
SELECT  wp_comments.comment_ID
			FROM wp_comments 
			WHERE ( comment_approved = '1' ) AND comment_post_ID = 1 AND comment_parent IN ( 1 )
			
			ORDER BY wp_comments.comment_date_gmt ASC, wp_comments.comment_ID ASC
;;
SELECT   wp_posts.*
			FROM wp_posts 
			WHERE 1=1  AND wp_posts.post_name = 'twentytwentythree' AND wp_posts.post_type = 'custom_css' AND ((wp_posts.post_status = 'publish' OR wp_posts.post_status = 'future' OR wp_posts.post_status = 'draft' OR wp_posts.post_status = 'pending' OR wp_posts.post_status = 'trash' OR wp_posts.post_status = 'auto-draft' OR wp_posts.post_status = 'inherit' OR wp_posts.post_status = 'request-pending' OR wp_posts.post_status = 'request-confirmed' OR wp_posts.post_status = 'request-failed' OR wp_posts.post_status = 'request-completed' OR wp_posts.post_status = 'private'))
			
			ORDER BY wp_posts.post_date DESC
;;
UPDATE wp_options set option_value = '' where option_name = 'upload_path'
;;
SELECT  COUNT(*)
			FROM wp_comments 
			WHERE ( comment_approved = '1' )
			
			ORDER BY wp_comments.comment_date_gmt DESC
;;
SELECT post_status, COUNT( * ) AS num_posts FROM wp_posts WHERE post_type = 'post' GROUP BY post_status
;;
SELECT   wp_posts.ID
					FROM wp_posts 
					WHERE 1=1  AND wp_posts.post_type = 'post' AND ((wp_posts.post_status = 'future'))
					
					ORDER BY wp_posts.post_date ASC
					LIMIT 0, 5
;;
SELECT  wp_comments.comment_ID
			FROM wp_comments 
			WHERE ( ( comment_approved = '0' OR comment_approved = '1' ) )
			
			ORDER BY wp_comments.comment_date_gmt DESC
			LIMIT 0,25
;;
SELECT  COUNT(*)
			FROM wp_comments 
			WHERE ( ( comment_approved = '0' OR comment_approved = '1' ) ) AND user_id = 1
			
			ORDER BY wp_comments.comment_date_gmt DESC
;;
INSERT INTO `wp_posts` (`post_author`, `post_date`, `post_date_gmt`, `post_content`, `post_content_filtered`, `post_title`, `post_excerpt`, `post_status`, `post_type`, `comment_status`, `ping_status`, `post_password`, `post_name`, `to_ping`, `pinged`, `post_modified`, `post_modified_gmt`, `post_parent`, `menu_order`, `post_mime_type`, `guid`) VALUES (1, '2026-11-26 16:08:41', '0000-00-00 00:00:00', '', '', 'Auto Draft', '', 'auto-draft', 'post', 'open', 'open', '', '', '', '', '2026-11-26 16:08:41', '0000-00-00 00:00:00', 0, 0, '', '')
;;
SELECT DISTINCT t.term_id
			FROM wp_terms AS t  INNER JOIN wp_term_taxonomy AS tt ON t.term_id = tt.term_id INNER JOIN wp_term_relationships AS tr ON tr.term_taxonomy_id = tt.term_taxonomy_id
			WHERE tt.taxonomy IN ('category') AND tr.object_id IN (4)
;;
UPDATE `wp_posts` SET `guid` = 'http://127.0.0.1:30825/?p=4' WHERE `ID` = 4
;;
SELECT DISTINCT t.term_id
			FROM wp_terms AS t  INNER JOIN wp_term_taxonomy AS tt ON t.term_id = tt.term_id INNER JOIN wp_term_relationships AS tr ON tr.term_taxonomy_id = tt.term_taxonomy_id
			WHERE tt.taxonomy IN ('category') AND tr.object_id IN (4)
			ORDER BY t.name ASC
;;
SELECT   wp_posts.ID
					FROM wp_posts 
					WHERE 1=1  AND wp_posts.post_author IN (1)  AND wp_posts.post_type = 'post' AND ((wp_posts.post_status = 'draft'))
					
					ORDER BY wp_posts.post_modified DESC
					LIMIT 0, 4
;;
SELECT   wp_posts.*
			FROM wp_posts 
			WHERE 1=1  AND wp_posts.post_name = 'first-post-t12906' AND wp_posts.ID NOT IN (0) AND wp_posts.post_type IN ('post', 'page', 'attachment') AND ((wp_posts.post_status = 'trash'))
			
			ORDER BY wp_posts.post_date DESC
;;
SELECT post_name FROM wp_posts WHERE post_name = 'first-post-t12906' AND post_type = 'post' AND ID != 0 LIMIT 1
;;
SELECT  t.term_id
			FROM wp_terms AS t  INNER JOIN wp_term_taxonomy AS tt ON t.term_id = tt.term_id
			WHERE tt.taxonomy IN ('category') AND t.term_id IN ( 1 )
			ORDER BY t.term_id ASC
			LIMIT 1
;;
SELECT term_taxonomy_id FROM wp_term_relationships WHERE object_id = 5 AND term_taxonomy_id = 1
;;
INSERT INTO `wp_term_relationships` (`object_id`, `term_taxonomy_id`) VALUES (5, 1)
;;
SELECT COUNT(*) FROM wp_term_relationships, wp_posts WHERE wp_posts.ID = wp_term_relationships.object_id AND post_status IN ('publish') AND post_type IN ('post') AND term_taxonomy_id = 1
;;
UPDATE `wp_term_taxonomy` SET `count` = 2 WHERE `term_taxonomy_id` = 1
;;
SELECT term_id, taxonomy FROM wp_term_taxonomy WHERE term_taxonomy_id IN (1)
;;
SELECT term_id, meta_key, meta_value FROM wp_termmeta WHERE term_id IN (1) ORDER BY meta_id ASC
;;
SELECT 1 as test FROM wp_posts WHERE post_type = 'post' AND post_status = 'publish' LIMIT 1
;;
SELECT COUNT(*) FROM wp_postmeta WHERE meta_key = '_encloseme' AND post_id = 5
;;
SELECT SQL_CALC_FOUND_ROWS  wp_posts.ID
			FROM wp_posts 
			WHERE 1=1  AND wp_posts.post_parent = 5  AND wp_posts.post_type = 'revision' AND ((wp_posts.post_status = 'inherit'))
			
			ORDER BY wp_posts.post_date DESC, wp_posts.ID DESC
			LIMIT 0, 1
;;
SELECT SQL_CALC_FOUND_ROWS wp_comments.comment_ID
			FROM wp_comments 
			WHERE ( ( comment_approved = '1' ) OR ( user_id = 1 AND comment_approved = '0' ) ) AND comment_post_ID = 5 AND comment_parent = 0
			
			ORDER BY wp_comments.comment_date_gmt ASC, wp_comments.comment_ID ASC
;;
SELECT SQL_CALC_FOUND_ROWS  wp_posts.ID
					FROM wp_posts 
					WHERE 1=1  AND ((wp_posts.post_type = 'post' AND (wp_posts.post_status = 'publish' 
OR wp_posts.post_status = 'private')))
					
					ORDER BY wp_posts.post_date DESC
					LIMIT 0, 10
;;
SELECT FOUND_ROWS()
;;
SELECT COUNT( 1 )
				FROM wp_posts
				WHERE post_type = 'post'
				AND post_status NOT IN ( 'trash','auto-draft','inherit','request-pending','request-confirmed','request-failed','request-completed' )
				AND post_author = 1
;;
SELECT SQL_CALC_FOUND_ROWS  wp_posts.ID
					FROM wp_posts 
					WHERE 1=1  AND ((wp_posts.post_type = 'post' AND (wp_posts.post_status = 'publish' OR wp_posts.post_status = 'future' OR wp_posts.post_status = 'draft' OR wp_posts.post_status = 'pending' 
OR wp_posts.post_status = 'private')))
					
					ORDER BY wp_posts.post_date DESC
					LIMIT 0, 20
;;
SELECT DISTINCT YEAR( post_date ) AS year, MONTH( post_date ) AS month
				FROM wp_posts
				WHERE post_type = 'post'
				AND post_status != 'auto-draft' AND post_status != 'trash'
				ORDER BY post_date DESC
;;
SELECT  t.term_id
			FROM wp_terms AS t  INNER JOIN wp_term_taxonomy AS tt ON t.term_id = tt.term_id
			WHERE tt.taxonomy IN ('category')
			ORDER BY t.name ASC
;;
SELECT  t.term_id
			FROM wp_terms AS t  INNER JOIN wp_term_taxonomy AS tt ON t.term_id = tt.term_id
			WHERE tt.taxonomy IN ('post_format') AND tt.count > 0
			ORDER BY t.name ASC
;;
SELECT comment_post_ID, COUNT(comment_ID) as num_comments FROM wp_comments WHERE comment_post_ID IN ( '5', '1' ) AND comment_approved = '0' GROUP BY comment_post_ID
;;
SELECT wp_users.ID,wp_users.user_login,wp_users.display_name
				FROM wp_users INNER JOIN wp_usermeta ON ( wp_users.ID = wp_usermeta.user_id )
				WHERE 1=1 AND ( 
  ( 
    ( 
      ( wp_usermeta.meta_key = 'wp_capabilities' AND wp_usermeta.meta_value LIKE '%\"edit\\_posts\"%' ) 
      OR 
      ( wp_usermeta.meta_key = 'wp_capabilities' AND wp_usermeta.meta_value LIKE '%\"administrator\"%' ) 
      OR 
      ( wp_usermeta.meta_key = 'wp_capabilities' AND wp_usermeta.meta_value LIKE '%\"editor\"%' ) 
      OR 
      ( wp_usermeta.meta_key = 'wp_capabilities' AND wp_usermeta.meta_value LIKE '%\"author\"%' ) 
      OR 
      ( wp_usermeta.meta_key = 'wp_capabilities' AND wp_usermeta.meta_value LIKE '%\"contributor\"%' )
    )
  )
)
				ORDER BY display_name ASC
;;
SELECT  t.term_id
			FROM wp_terms AS t  INNER JOIN wp_term_taxonomy AS tt ON t.term_id = tt.term_id
			WHERE tt.taxonomy IN ('category') AND tt.count > 0
			ORDER BY tt.count DESC
			LIMIT 10
;;
UPDATE `wp_posts` SET `post_author` = 1, `post_date` = '2026-11-26 16:08:41', `post_date_gmt` = '2026-11-26 16:08:41', `post_content` = '<p>Edited body 1 of t12906</p>', `post_content_filtered` = '', `post_title` = 'Edit 1 of t12906 title', `post_excerpt` = '', `post_status` = 'publish', `post_type` = 'post', `comment_status` = 'open', `ping_status` = 'open', `post_password` = '', `post_name` = 'first-post-t12906', `to_ping` = '', `pinged` = '', `post_modified` = '2026-11-26 16:08:41', `post_modified_gmt` = '2026-11-26 16:08:41', `post_parent` = 0, `menu_order` = 0, `post_mime_type` = '', `guid` = 'http://127.0.0.1:30825/2026/11/26/first-post-t12906/' WHERE `ID` = 5
;;
SELECT   wp_posts.*
			FROM wp_posts 
			WHERE 1=1  AND wp_posts.post_parent = 5  AND wp_posts.post_type = 'revision' AND ((wp_posts.post_status = 'inherit'))
			
			ORDER BY wp_posts.post_date DESC, wp_posts.ID DESC
;;
SELECT comment_ID FROM wp_comments WHERE comment_post_ID = 5 AND comment_parent = '0' AND comment_approved != 'trash' AND ( comment_author = 'admin' AND comment_author_email = 'admin@example.test' ) AND comment_content = 'Comment 1 on t12906 here' LIMIT 1
;;
SELECT post_author FROM wp_posts WHERE ID = 5 LIMIT 1
;;
INSERT INTO `wp_comments` (`comment_post_ID`, `comment_author_IP`, `comment_author`, `comment_author_email`, `comment_author_url`, `comment_date`, `comment_date_gmt`, `comment_content`, `comment_karma`, `comment_approved`, `comment_agent`, `comment_type`, `comment_parent`, `user_id`) VALUES (5, '127.0.0.1', 'admin', 'admin@example.test', 'http://127.0.0.1:30825', '2026-11-26 16:08:41', '2026-11-26 16:08:41', 'Comment 1 on t12906 here', 0, '1', 'sqlyard-wordpress-e2e', 'comment', 0, 1)
;;
SELECT COUNT(*) FROM wp_comments WHERE comment_post_ID = 5 AND comment_approved = '1'
;;
UPDATE `wp_posts` SET `comment_count` = 1 WHERE `ID` = 5
;;
SELECT * FROM wp_comments WHERE comment_ID = 2 LIMIT 1
;;
SELECT  wp_comments.comment_ID
			FROM wp_comments 
			WHERE ( ( comment_approved = '1' ) OR ( user_id = 1 AND comment_approved = '0' ) ) AND comment_post_ID = 5 AND comment_parent IN ( 2 )
			
			ORDER BY wp_comments.comment_date_gmt ASC, wp_comments.comment_ID ASC
;;
SELECT  COUNT(*)
			FROM wp_comments 
			WHERE ( ( comment_approved = '0' OR comment_approved = '1' ) )
			
			ORDER BY wp_comments.comment_date_gmt DESC
;;
SELECT  wp_comments.comment_ID
			FROM wp_comments 
			WHERE ( ( comment_approved = '0' OR comment_approved = '1' ) ) AND comment_type IN ('', 'comment')
			
			ORDER BY wp_comments.comment_date_gmt DESC
			LIMIT 0,1
;;
SELECT SQL_CALC_FOUND_ROWS  wp_posts.ID
					FROM wp_posts 
					WHERE 1=1  AND (((wp_posts.post_title LIKE '%t12906%') OR (wp_posts.post_excerpt LIKE '%t12906%') OR (wp_posts.post_content LIKE '%t12906%')))  AND ((wp_posts.post_type = 'post' AND (wp_posts.post_status = 'publish' 
OR wp_posts.post_status = 'private')) OR (wp_posts.post_type = 'page' AND (wp_posts.post_status = 'publish' 
OR wp_posts.post_status = 'private')) OR (wp_posts.post_type = 'attachment' AND (wp_posts.post_status = 'publish' 
OR wp_posts.post_status = 'private')))
					
					ORDER BY wp_posts.post_title LIKE '%t12906%' DESC, wp_posts.post_date DESC
					LIMIT 0, 10
;;
SELECT SQL_CALC_FOUND_ROWS  wp_posts.ID
					FROM wp_posts 
					WHERE 1=1  AND wp_posts.post_author IN (1)  AND ((wp_posts.post_type = 'post' AND (wp_posts.post_status = 'publish' 
OR wp_posts.post_status = 'private')))
					
					ORDER BY wp_posts.post_date DESC
					LIMIT 0, 10
;;
SELECT ID FROM wp_posts WHERE wp_posts.post_author = 1 AND wp_posts.post_status = 'publish' LIMIT 1
;;
SELECT SQL_CALC_FOUND_ROWS  wp_posts.ID
					FROM wp_posts 
					WHERE 1=1  AND (wp_posts.post_author = 1) AND ((wp_posts.post_type = 'post' AND (wp_posts.post_status = 'publish' 
OR wp_posts.post_status = 'private')))
					
					ORDER BY wp_posts.post_date DESC
					LIMIT 0, 10
;;
SELECT post_modified_gmt FROM wp_posts WHERE post_status = 'publish' AND post_type IN ('post', 'page', 'attachment') ORDER BY post_modified_gmt DESC LIMIT 1
;;
SELECT post_date_gmt FROM wp_posts WHERE post_status = 'publish' AND post_type IN ('post', 'page', 'attachment') ORDER BY post_date_gmt DESC LIMIT 1
;;
SELECT  wp_comments.comment_ID FROM wp_comments JOIN wp_posts ON ( wp_comments.comment_post_ID = wp_posts.ID ) WHERE ( post_status = 'publish' OR ( post_status = 'inherit' AND post_type = 'attachment' ) ) AND comment_approved = '1'  ORDER BY comment_date_gmt DESC LIMIT 10
;;
SELECT SQL_CALC_FOUND_ROWS  wp_posts.ID
					FROM wp_posts 
					WHERE 1=1 AND wp_posts.ID IN (5,5,5,5,5,5,5,5,5,5) 
					
					ORDER BY wp_posts.post_date DESC
					LIMIT 0, 10
;;
SELECT comment_date_gmt FROM wp_comments WHERE comment_approved = '1' ORDER BY comment_date_gmt DESC LIMIT 1
;;
