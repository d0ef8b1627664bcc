using AgentPlatform.Contracts.Http;
using Microsoft.AspNetCore.Http;

namespace AgentPlatform.Contracts.OpenAI;

/// <summary>
/// An error answer in OpenAI's shape as a typed result: a handler returns it among its
/// <c>Results&lt;Ok&lt;T&gt;, OpenAIErrorResult&gt;</c>, and a stage of a request returns it as its refusal,
/// rather than writing the response itself.
/// </summary>
public sealed class OpenAIErrorResult(int status, string message, string type, string? code = null, string? param = null)
    : IResult, IStatusCodeHttpResult
{
    public int StatusCode => status;

    int? IStatusCodeHttpResult.StatusCode => status;

    public string Message => message;

    public string? Code => code;

    /// <summary>Headers the answer carries beside the error: <c>Retry-After</c>, <c>x-ratelimit-*</c>.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    public Task ExecuteAsync(HttpContext httpContext)
    {
        foreach (var (name, value) in Headers)
        {
            httpContext.Response.Headers[name] = value;
        }
        return OpenAIError.WriteAsync(httpContext, status, message, type, code, param);
    }

    public static OpenAIErrorResult BadRequest(string message, string code, string? param = null) =>
        new(StatusCodes.Status400BadRequest, message, OpenAIError.InvalidRequest, code, param);

    public static OpenAIErrorResult NotFound(string message, string code) =>
        new(StatusCodes.Status404NotFound, message, OpenAIError.NotFound, code);

    /// <summary>
    /// A 503 for something the platform depends on being away (Redis, the Router): the client may try again,
    /// after the <c>Retry-After</c> it carries (a second unless <paramref name="retryAfter"/> says otherwise).
    /// </summary>
    /// <param name="type">OpenAI's error type: <c>server_error</c>, or <c>upstream_error</c> for the Router.</param>
    public static OpenAIErrorResult Unavailable(string message, string code, TimeSpan? retryAfter = null, string type = OpenAIError.Server) =>
        new(StatusCodes.Status503ServiceUnavailable, message, type, code)
        {
            Headers = [new(RetryAfterHeader.Name, RetryAfterHeader.Seconds(retryAfter ?? TimeSpan.FromSeconds(1)))],
        };
}
