"""A LangChain agent with two tools and a structured answer, against Atrium's OpenAI API.

Runs LangChain's own tool-calling agent (``langchain.agents.create_agent``) on
``ChatOpenAI(base_url=<atrium>/v1)`` twice, once per tool (``multiply`` and ``get_weather``),
then asks for a structured answer with ``with_structured_output(PydanticModel)``. Atrium enforces
both with constrained decoding, so even the default 135M model produces valid calls and JSON.

Usage (``pip install -e ".[dev]"`` installs LangChain)::

    python examples/langchain_agent.py --url http://127.0.0.1:8000 --api-key atr-... \\
        --model smollm2-135m-instruct

The URL, key and model can also come from ``ATRIUM_URL``, ``ATRIUM_API_KEY`` and
``ATRIUM_MODEL``. Prints each step; exits 1 when a step did not do what it should.

A model as small as the default one does better with some help, which any application can
give through the standard API: a plain system prompt, ``tool_choice="required"`` for the step
that must call a tool and ``tool_choice="none"`` once the tool's result is in (a middleware
below), and ``temperature=0``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import ModelRequest, ModelResponse, wrap_model_call
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

SYSTEM_PROMPT = (
    "You are a helpful assistant. Call multiply to multiply numbers. Call get_weather for the "
    "weather in a city. When a tool result arrives, answer the user in one short sentence."
)
WEATHER = {"paris": "sunny, 21 degrees Celsius", "london": "light rain, 14 degrees Celsius"}


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers and return the product."""
    return a * b


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return WEATHER.get(city.strip().lower(), "cloudy, 17 degrees Celsius")


class CityFacts(BaseModel):
    """Facts about a city."""

    city: str = Field(max_length=40, description="the city's name")
    country: str = Field(max_length=40, description="the country it is in")
    is_capital: bool = Field(description="whether it is the country's capital")


@wrap_model_call
def call_then_answer(
    request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], ModelResponse[Any]]
) -> ModelResponse[Any]:
    """Force one tool call until a tool result is in, then a text answer."""
    has_result = any(isinstance(message, ToolMessage) for message in request.messages)
    return handler(
        request.override(
            tool_choice="none" if has_result else "required",
            model_settings={**request.model_settings, "parallel_tool_calls": False},
        )
    )


class StepFailed(Exception):
    pass


def check(condition: bool, failure: str) -> None:
    if not condition:
        raise StepFailed(failure)


def show(messages: Sequence[BaseMessage]) -> None:
    for message in messages:
        if isinstance(message, AIMessage) and message.tool_calls:
            calls = ", ".join(f"{c['name']}({c['args']})" for c in message.tool_calls)
            print(f"  assistant calls: {calls}")
        elif isinstance(message, ToolMessage):
            print(f"  tool {message.name} -> {message.content}")
        else:
            print(f"  {message.type}: {message.content}")


def run_agent(agent: Any, question: str, tool_name: str, expected_result: str | None) -> None:
    print(f"agent: {question}")
    state = agent.invoke({"messages": [HumanMessage(question)]})
    messages: list[BaseMessage] = state["messages"]
    show(messages)
    calls = [c for m in messages if isinstance(m, AIMessage) for c in m.tool_calls]
    results = [m for m in messages if isinstance(m, ToolMessage)]
    check(bool(calls), "the model called no tool")
    check(
        [c["name"] for c in calls] == [tool_name],
        f"expected one call of {tool_name}, got {[c['name'] for c in calls]}",
    )
    check(
        len(results) == 1 and results[0].status == "success",
        f"the tool did not run: {[r.content for r in results]}",
    )
    if expected_result is not None:
        check(results[0].content == expected_result, f"{tool_name} returned {results[0].content}")
    final = messages[-1]
    check(
        isinstance(final, AIMessage) and not final.tool_calls and bool(final.text.strip()),
        "the agent did not end with a text answer",
    )
    print(f"AGENT OK {tool_name}: {final.text.strip()}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", default=os.environ.get("ATRIUM_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--api-key", default=os.environ.get("ATRIUM_API_KEY"))
    parser.add_argument("--model", default=os.environ.get("ATRIUM_MODEL", "smollm2-135m-instruct"))
    args = parser.parse_args(argv)
    if not args.api_key:
        parser.error("an API key is needed: --api-key or ATRIUM_API_KEY")

    llm = ChatOpenAI(
        base_url=args.url.rstrip("/") + "/v1",
        api_key=args.api_key,
        model=args.model,
        temperature=0,
        max_tokens=200,  # type: ignore[call-arg]
        max_retries=0,
        timeout=120,
    )
    agent = create_agent(
        llm,
        tools=[get_weather, multiply],
        system_prompt=SYSTEM_PROMPT,
        middleware=[call_then_answer],
    )
    try:
        run_agent(agent, "Multiply 12 by 3.", "multiply", expected_result="36")
        run_agent(agent, "What is the weather in Paris?", "get_weather", expected_result=None)

        print("structured: Tell me about Paris.")
        structured = llm.with_structured_output(CityFacts)
        facts = structured.invoke(
            [
                ("system", "You are a helpful assistant. Answer with facts about the city."),
                ("user", "Tell me about Paris."),
            ]
        )
        check(isinstance(facts, CityFacts), f"not a CityFacts: {facts!r}")
        checked = CityFacts.model_validate(facts.model_dump())  # type: ignore[union-attr]
        print(f"STRUCTURED OK {checked.model_dump_json()}")
    except StepFailed as failed:
        print(f"FAILED: {failed}")
        return 1
    print("ALL OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
