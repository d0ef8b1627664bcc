using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using AgentPlatform.ServiceDefaults.Http;
using AgentPlatform.ServiceDefaults.OpenAI;
using AgentPlatform.ServiceDefaults.RequestIds;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Api.Routing;

/// <summary>
/// Carries a request to the Router (found by service discovery under <c>router</c>) and streams its
/// answer back. The Router owns retries and failover across deployments, so this client never
/// retries: a second layer of retries would multiply load on a struggling provider, and a
/// completion must not be re-sent once its answer has begun.
/// </summary>
public sealed class RouterClient(IHttpClientFactory httpClientFactory, IOptions<ApiOptions> options, ILogger<RouterClient> logger)
{
    public const string HttpClientName = "router";
    public const string OverheadHeader = "x-agentplatform-overhead-ms";
    public const string CacheHeader = "x-agentplatform-cache";

    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");
    private readonly TimeSpan _timeout = TimeSpan.FromSeconds(options.Value.RouterTimeoutSeconds);

    /// <summary>Forwards a request to the Router and copies the answer to the client as it arrives.</summary>
    /// <param name="started">When the Api began handling the request (a <see cref="Stopwatch"/> timestamp).</param>
    public async Task ForwardAsync(HttpContext context, HttpMethod method, string path, ReadOnlyMemory<byte>? body, long started)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        timeout.CancelAfter(_timeout);
        using var request = new HttpRequestMessage(method, path);
        if (body is { } content)
        {
            request.Content = new ReadOnlyMemoryContent(content);
            request.Content.Headers.ContentType = JsonContentType;
        }
        request.Headers.TryAddWithoutValidation(RequestId.HeaderName, context.TraceIdentifier);

        HttpResponseMessage response;
        try
        {
            response = await httpClientFactory.CreateClient(HttpClientName)
                .SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            Log.RouterTimedOut(logger, _timeout.TotalSeconds);
            await OpenAIError.WriteAsync(context, StatusCodes.Status504GatewayTimeout,
                $"The router did not answer within {_timeout.TotalSeconds:0} s.", OpenAIError.Upstream, "router_timeout");
            return;
        }
        catch (HttpRequestException exception)
        {
            Log.RouterUnreachable(logger, exception.HttpRequestError, exception);
            await OpenAIError.WriteAsync(context, StatusCodes.Status503ServiceUnavailable,
                "The router is unreachable; try again shortly.", OpenAIError.Upstream, "router_unavailable");
            return;
        }

        using (response)
        {
            timeout.CancelAfter(Timeout.InfiniteTimeSpan);
            ProxyResponse.CopyHeaders(response, context.Response);
            context.Response.Headers[OverheadHeader] = Overhead(response, started);
            context.Response.Headers[CacheHeader] = "bypass";
            try
            {
                await ProxyResponse.CopyBodyAsync(response, context.Response, timeout.Token);
            }
            catch (Exception exception) when (exception is HttpRequestException or IOException && !context.RequestAborted.IsCancellationRequested)
            {
                // The Router aborted a broken stream; pass the break on rather than end it cleanly.
                Log.RouterStreamBroken(logger, exception);
                context.Abort();
            }
        }
    }

    /// <summary>The model groups the Router serves (for a key that may use only some of them).</summary>
    public async Task<IReadOnlyList<ModelEntry>> GetModelsAsync(CancellationToken cancellationToken)
    {
        var list = await httpClientFactory.CreateClient(HttpClientName).GetFromJsonAsync<ModelList>("/v1/models", cancellationToken);
        return list?.Data ?? [];
    }

    public sealed record ModelList(IReadOnlyList<ModelEntry> Data);

    /// <summary>One entry of OpenAI's model list.</summary>
    public sealed record ModelEntry(
        [property: System.Text.Json.Serialization.JsonPropertyName("id")] string Id,
        [property: System.Text.Json.Serialization.JsonPropertyName("object")] string Object,
        [property: System.Text.Json.Serialization.JsonPropertyName("created")] long Created,
        [property: System.Text.Json.Serialization.JsonPropertyName("owned_by")] string OwnedBy);

    /// <summary>Time in the platform before the answer started: Api time minus the deployment's time.</summary>
    private static string Overhead(HttpResponseMessage response, long started)
    {
        var total = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var upstream = response.Headers.TryGetValues(ProxyResponse.UpstreamTimeHeader, out var values)
            && double.TryParse(values.First(), NumberStyles.Float, CultureInfo.InvariantCulture, out var ms) ? ms : 0;
        return Math.Max(0, total - upstream).ToString("0.###", CultureInfo.InvariantCulture);
    }
}
