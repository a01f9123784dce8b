// The 4o6 server suite (server-suite.ts) and its live reload (reconfigure-suite.ts) over the SQLite lease store.
import { reconfigureSuite } from './reconfigure-suite.js';
import { serverSuite } from './server-suite.js';

serverSuite('sqlite');
reconfigureSuite('sqlite');
