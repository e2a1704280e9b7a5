import { runApiSuite } from "./api-suite.js";

runApiSuite("postgres");
