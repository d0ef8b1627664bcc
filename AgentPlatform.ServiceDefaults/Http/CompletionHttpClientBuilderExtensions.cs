using System.Net;

namespace Microsoft.Extensions.DependencyInjection;

public static class CompletionHttpClientBuilderExtensions
{
    /// <summary>
    /// Makes a client fit to carry chat completions: the standard resilience handler that
    /// <c>AddServiceDefaults</c> gives every client is removed (it would re-send a completion, and its
    /// 30 s total timeout would cut long streams: the caller owns retries and timeouts), the per-request
    /// log lines of the client factory are dropped (they cost on every call; the caller logs what
    /// matters), and connections are pooled and recycled for DNS changes.
    /// </summary>
    public static IHttpClientBuilder AsCompletionClient(this IHttpClientBuilder builder)
    {
        // RemoveAllResilienceHandlers is marked experimental, but it is the documented way to opt one
        // client out of ConfigureHttpClientDefaults' resilience.
#pragma warning disable EXTEXP0001
        builder.RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
        return builder
            .RemoveAllLoggers()
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                PooledConnectionLifetime = TimeSpan.FromMinutes(2),
                ConnectTimeout = TimeSpan.FromSeconds(10),
                AutomaticDecompression = DecompressionMethods.None,
                UseCookies = false,
            })
            .ConfigureHttpClient(client => client.Timeout = Timeout.InfiniteTimeSpan);
    }
}
