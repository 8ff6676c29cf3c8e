// Entry point: the stylesheet (emitted as a file, as the CSP wants) and the app shell.
import "./styles.css";
import { startApp } from "./app";

const mount = document.getElementById("app");
if (mount) startApp(mount);
