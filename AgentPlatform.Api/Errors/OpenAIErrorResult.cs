using AgentPlatform.Contracts.OpenAI;

namespace AgentPlatform.Api.Errors;

/// <summary>
/// An error answer in OpenAI's shape as a typed result: a handler returns it among its
/// <c>Results&lt;Ok&lt;T&gt;, OpenAIErrorResult&gt;</c> rather than writing the response itself.
/// </summary>
public sealed class OpenAIErrorResult(int status, string message, string type, string? code = null, string? param = null)
    : IResult, IStatusCodeHttpResult
{
    public int StatusCode => status;

    int? IStatusCodeHttpResult.StatusCode => status;

    public Task ExecuteAsync(HttpContext httpContext) => OpenAIError.WriteAsync(httpContext, status, message, type, code, param);

    public static OpenAIErrorResult BadRequest(string message, string code, string? param = null) =>
        new(StatusCodes.Status400BadRequest, message, OpenAIError.InvalidRequest, code, param);

    public static OpenAIErrorResult NotFound(string message, string code) =>
        new(StatusCodes.Status404NotFound, message, OpenAIError.NotFound, code);

    public static OpenAIErrorResult Unavailable(string message, string code) =>
        new(StatusCodes.Status503ServiceUnavailable, message, OpenAIError.Server, code);
}
