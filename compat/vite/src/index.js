// The binding probe (compat/workers/binding-probe.js), as this project's Worker.
export { default } from "../../workers/binding-probe.js";
