"""A small Flask shop: a page, and a checkout whose card payment fails.

Run it under the OpenTelemetry agent like examples/wsgi_app.py (Flask's own instrumentation,
`opentelemetry-instrumentation-flask`, adds `http.route` when it is installed). Its test,
examples/test_flask_app.py, wraps the app in OpenTelemetry's WSGI middleware and sends its
spans to a local receiver through the `honeycomb_receiver` fixture.

    flask --app examples/flask_app.py run
"""

from __future__ import annotations

from flask import Flask
from opentelemetry import trace
from opentelemetry.trace import TracerProvider


class CardDeclined(RuntimeError):
    pass


def create_app(tracer_provider: TracerProvider | None = None) -> Flask:
    """The app; its own spans come from `tracer_provider` (the global one by default)."""
    app = Flask("shop")
    tracer = trace.get_tracer("shop", tracer_provider=tracer_provider)

    @app.get("/hello")
    def hello() -> str:
        return "hello\n"

    @app.post("/checkout")
    def checkout() -> tuple[str, int]:
        with tracer.start_as_current_span("load cart") as span:
            span.set_attribute("cart.items", 3)
        try:
            with tracer.start_as_current_span("charge card"):
                raise CardDeclined("card declined by the issuer")
        except CardDeclined as declined:
            return f"payment failed: {declined}\n", 402
        return "paid\n", 200  # pragma: no cover - the card is always declined here

    return app


app = create_app()
