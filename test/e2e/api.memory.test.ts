import { runApiSuite } from "./api-suite.js";

runApiSuite("memory");
