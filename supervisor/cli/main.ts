#!/usr/bin/env node
console.log("podd");
