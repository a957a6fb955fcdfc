import { render } from "preact";

render(<main>multiclaude-coord</main>, document.getElementById("app")!);
