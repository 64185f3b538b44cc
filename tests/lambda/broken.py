"""A handler module that cannot be imported: awslambdaric reports Runtime.ImportModuleError to
/2018-06-01/runtime/init/error."""

import s3crypt_this_module_does_not_exist  # noqa: F401


def handler(event, context):
    return {}
