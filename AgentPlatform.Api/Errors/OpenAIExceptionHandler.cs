using AgentPlatform.Contracts.OpenAI;
using Microsoft.AspNetCore.Diagnostics;

namespace AgentPlatform.Api.Errors;

/// <summary>Turns anything unhandled into OpenAI's error shape, so SDKs never see an HTML page.</summary>
internal sealed class OpenAIExceptionHandler : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (context.Response.HasStarted)
        {
            return false;
        }
        if (exception is BadHttpRequestException bad)
        {
            var message = bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? "The request body is too large." : "The request could not be read.";
            await OpenAIError.WriteAsync(context, bad.StatusCode, message, OpenAIError.InvalidRequest);
            return true;
        }
        await OpenAIError.WriteAsync(
            context, StatusCodes.Status500InternalServerError,
            $"The server had an error while processing your request. Quote request id {context.TraceIdentifier} when asking for help.",
            OpenAIError.Server);
        return true;
    }
}
