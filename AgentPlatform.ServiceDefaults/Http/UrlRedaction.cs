using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;

namespace AgentPlatform.ServiceDefaults.Http;

/// <summary>
/// Keeps URLs that are credentials out of traces. A webhook's URL is its secret (Slack's carries it in
/// the path), and an MCP server's may be: the HTTP client span of a request made through a client
/// marked with <see cref="RedactUrlInTraces"/> records the scheme, host and port, never the path or query.
/// </summary>
public static class UrlRedaction
{
    private static readonly HttpRequestOptionsKey<bool> RedactKey = new("agentplatform.redact-url");

    /// <summary>Marks every request of this client: its span's <c>url.full</c> keeps only where it went.</summary>
    public static IHttpClientBuilder RedactUrlInTraces(this IHttpClientBuilder builder) =>
        builder.AddHttpMessageHandler(static () => new MarkingHandler());

    /// <summary>The tracing enrichment (<c>EnrichWithHttpRequestMessage</c>) that does the redacting.</summary>
    internal static void Enrich(Activity activity, HttpRequestMessage request)
    {
        if (request.Options.TryGetValue(RedactKey, out var redact) && redact && request.RequestUri is { IsAbsoluteUri: true } uri)
        {
            activity.SetTag("url.full", $"{uri.Scheme}://{uri.Authority}/[redacted]");
            activity.SetTag("url.path", null);
            activity.SetTag("url.query", null);
        }
    }

    private sealed class MarkingHandler : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Options.Set(RedactKey, true);
            return base.SendAsync(request, cancellationToken);
        }
    }
}
