"""Handlers of tests/lambda_runtime.rs and tests/cli_lambda.rs, run unmodified by awslambdaric
(`python -m awslambdaric handlers.NAME`) against s3crypt's Lambda Runtime API."""

import os
import time


def echo(event, context):
    """The event back, with what the runtime told the handler and the process id (warm reuse)."""
    secret = os.environ.get("S3CRYPT_TEST_SECRET", "")
    # Printed on purpose: the host must scrub secret values from the captured logs.
    print(f"hello from echo; the secret is {secret}")
    return {
        "event": event,
        "pid": os.getpid(),
        "requestId": context.aws_request_id,
        "functionArn": context.invoked_function_arn,
        "functionName": context.function_name,
        "memoryLimit": context.memory_limit_in_mb,
        "remainingMs": context.get_remaining_time_in_millis(),
        "secretLength": len(secret),
        "env": {
            name: os.environ.get(name)
            for name in [
                "STAGE",
                "AWS_REGION",
                "AWS_DEFAULT_REGION",
                "AWS_LAMBDA_FUNCTION_NAME",
                "AWS_LAMBDA_FUNCTION_VERSION",
                "AWS_LAMBDA_FUNCTION_TIMEOUT",
                "AWS_LAMBDA_LOG_GROUP_NAME",
                "LAMBDA_TASK_ROOT",
                "TZ",
                "CARGO_PKG_NAME",
            ]
        },
    }


def raises(event, context):
    """An unhandled exception: an error document with errorType ValueError."""
    print("about to fail")
    raise ValueError("bad input: " + str(event.get("why", "none")))


def sleeps(event, context):
    """Sleeps `seconds` (past the function's timeout in the timeout test), then answers."""
    time.sleep(float(event.get("seconds", 10)))
    return {"slept": event.get("seconds"), "pid": os.getpid()}


def crash(event, context):
    """Exits the process in the middle of the invocation."""
    print("crashing now", flush=True)
    os._exit(3)
