// The Node.js echo handler (run by aws-lambda-ric when Node.js >= 22 is available).
exports.handler = async (event, context) => ({ node: true, event, requestId: context.awsRequestId });
