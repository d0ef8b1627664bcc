using System.Collections;
using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AgentPlatform.ServiceDefaults.RequestIds;

/// <summary>
/// Gives every request an id: the caller's <c>x-request-id</c> when it is a sane one (so a client, or
/// the Api calling the Router, can follow its own id through the logs), otherwise a new time-ordered
/// one. The id becomes <see cref="HttpContext.TraceIdentifier"/>, is echoed in the response header,
/// tagged on the request's activity and opened as a log scope so every log line carries it.
/// </summary>
internal sealed class RequestIdMiddleware(RequestDelegate next, ILogger<RequestIdMiddleware> logger)
{
    public Task InvokeAsync(HttpContext context)
    {
        var requestId = RequestId.FromHeaderOrNew(context.Request.Headers[RequestId.HeaderName]);
        context.TraceIdentifier = requestId;
        context.Response.Headers[RequestId.HeaderName] = requestId;
        Activity.Current?.SetTag(RequestId.ActivityTagName, requestId);

        return InvokeInScopeAsync(context, requestId);
    }

    private async Task InvokeInScopeAsync(HttpContext context, string requestId)
    {
        using var scope = logger.BeginScope(new RequestIdLogScope(requestId));
        await next(context);
    }

    /// <summary>A one-field scope: structured loggers see <c>RequestId</c> as a property.</summary>
    private sealed class RequestIdLogScope(string requestId) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        public KeyValuePair<string, object?> this[int index] =>
            index == 0 ? new("RequestId", requestId) : throw new ArgumentOutOfRangeException(nameof(index));

        public int Count => 1;

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
        {
            yield return this[0];
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => $"RequestId:{requestId}";
    }
}
