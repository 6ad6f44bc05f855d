/**
 * The PostgreSQL target connects exactly as the source does (UTC, ISO styles, UTF8, every value as
 * PostgreSQL's text, errors naming the server and the fix): one implementation, in the source's
 * folder, as for MySQL.
 */
export { clientConfig, connectError, openClient, openPool } from '../../sources/postgres/connection.js';
