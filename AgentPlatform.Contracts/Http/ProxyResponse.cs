using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;

namespace AgentPlatform.Contracts.Http;

/// <summary>
/// Copies an upstream response to the client as it arrives: status, content headers, the platform's
/// own headers, then the body, flushed chunk by chunk so server-sent events are never held back.
/// </summary>
public static class ProxyResponse
{
    public const string DeploymentHeader = "x-agentplatform-deployment";
    public const string UpstreamTimeHeader = "x-agentplatform-upstream-ms";

    /// <summary>How many deployments the Router called for the answer (1 when the first answered).</summary>
    public const string AttemptsHeader = "x-agentplatform-attempts";

    /// <summary>
    /// Router to Api only: the answering deployment's prices in USD per million tokens,
    /// <c>input=..;cached_input=..;output=..</c>, for the Api to price the usage it records. Not passed to clients.
    /// </summary>
    public const string PriceHeader = "x-agentplatform-price-per-million";

    /// <summary>Set when a fallback model group answered: its name.</summary>
    public const string FallbackHeader = "x-agentplatform-fallback";

    /// <summary>Headers of the upstream response that reach the client unchanged.</summary>
    private static readonly string[] PassedHeaders = [DeploymentHeader, UpstreamTimeHeader, AttemptsHeader, FallbackHeader, "Retry-After"];

    public static void CopyHeaders(HttpResponseMessage upstream, HttpResponse response)
    {
        response.StatusCode = (int)upstream.StatusCode;
        foreach (var name in PassedHeaders)
        {
            if (upstream.Headers.TryGetValues(name, out var values))
            {
                response.Headers[name] = values.ToArray();
            }
        }

        var content = upstream.Content.Headers;
        var contentType = content.ContentType;
        if (contentType is not null)
        {
            response.ContentType = contentType.ToString();
        }
        if (content.ContentLength is { } length)
        {
            response.ContentLength = length;
        }
        if (contentType?.MediaType == "text/event-stream")
        {
            response.Headers.CacheControl = "no-cache";
        }
    }

    /// <summary>Streams the body to the client; each read from upstream is flushed at once.</summary>
    public static async Task CopyBodyAsync(HttpResponseMessage upstream, HttpResponse response, CancellationToken cancellationToken)
    {
        await using var body = await upstream.Content.ReadAsStreamAsync(cancellationToken);
        await body.CopyToAsync(response.BodyWriter, cancellationToken);
    }
}
