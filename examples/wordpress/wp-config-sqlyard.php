<?php
/**
 * The database lines of wp-config.php for WordPress behind sqlyard.
 *
 * Replace the DB_* lines of your wp-config.php with these. DB_HOST must be
 * the router's TCP address with its port: 'localhost' would make PHP use
 * the local MySQL Unix socket and bypass sqlyard.
 */

/** The database WordPress uses (it must exist on the primary). */
define( 'DB_NAME', 'wordpress' );

/** A [[users]] entry of sqlyard.toml; the same account must exist on the servers. */
define( 'DB_USER', 'app' );

/** That user's password (the same on sqlyard and on the servers). */
define( 'DB_PASSWORD', 'app_pw' );

/** sqlyard's [router] listen address. */
define( 'DB_HOST', '127.0.0.1:6033' );

/** Database charset and collation, as WordPress recommends. */
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );
