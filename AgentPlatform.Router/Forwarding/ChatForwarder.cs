using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using AgentPlatform.Router.Pool;
using AgentPlatform.ServiceDefaults.Http;
using AgentPlatform.ServiceDefaults.OpenAI;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Router.Forwarding;

/// <summary>
/// Sends a chat completion to a deployment of its model group and streams the answer back. The group
/// picks the deployment (lowest priority first, then its strategy); when it cannot answer (connection
/// failure, timeout, 408, 429, 5xx, a break before the first byte) the group picks again among the
/// untried, until one answers or all have failed. Once the answer has started it is never re-sent:
/// a broken stream aborts the client's response instead.
/// </summary>
public sealed class ChatForwarder(
    UpstreamInvoker upstream,
    IOptions<RouterOptions> options,
    RouterMetrics metrics,
    TimeProvider timeProvider,
    ILogger<ChatForwarder> logger)
{
    /// <summary>The first read from a deployment, which decides whether its answer has begun.</summary>
    private const int FirstReadBytes = 16 * 1024;

    private readonly TimeSpan _headersTimeout = TimeSpan.FromSeconds(options.Value.ResponseHeadersTimeoutSeconds);

    public async Task ForwardAsync(HttpContext context, ModelGroup group, ReadOnlyMemory<byte> body, Range modelToken)
    {
        var tried = new List<Deployment>(capacity: 2);
        var lastFailure = "";
        var lastWasTimeout = false;

        while (group.PickNext(tried) is { } deployment)
        {
            tried.Add(deployment);
            var isLastChance = tried.Count == group.Deployments.Count;
            using var inFlight = deployment.State.BeginRequest();

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            timeout.CancelAfter(_headersTimeout);
            using var request = new HttpRequestMessage(HttpMethod.Post, deployment.ChatCompletionsUri)
            {
                Content = new ModelRewriteContent(body, modelToken, deployment.ModelJsonToken),
            };
            request.Headers.Authorization = deployment.Authorization;

            var started = timeProvider.GetTimestamp();
            HttpResponseMessage response;
            try
            {
                response = await upstream.SendAsync(request, timeout.Token);
            }
            catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException && !context.RequestAborted.IsCancellationRequested)
            {
                lastWasTimeout = exception is OperationCanceledException;
                lastFailure = AttemptFailed(group, deployment, statusCode: null, started, lastWasTimeout
                    ? $"deployment '{deployment.Name}' sent no response within {_headersTimeout.TotalSeconds:0} s"
                    : $"deployment '{deployment.Name}' could not be reached ({(exception as HttpRequestException)?.HttpRequestError})");
                continue;
            }

            using (response)
            {
                var elapsed = timeProvider.GetElapsedTime(started);
                deployment.State.RecordLatency(elapsed);
                var status = (int)response.StatusCode;
                if (IsWorthAnotherDeployment(response.StatusCode) && !isLastChance)
                {
                    lastWasTimeout = false;
                    lastFailure = $"deployment '{deployment.Name}' answered {status}";
                    metrics.Attempt(group.Name, deployment.Name, "refused", status, elapsed);
                    Log.DeploymentRefused(logger, deployment.Name, group.Name, response.StatusCode);
                    continue;
                }

                // Nothing reaches the client until the deployment's first bytes have arrived: until
                // then a deployment that breaks off (or stalls past the timeout) is as good as one that
                // never answered, and the next one is tried. After that the answer is never re-sent.
                await using var answer = await response.Content.ReadAsStreamAsync(timeout.Token);
                var firstBytes = ArrayPool<byte>.Shared.Rent(FirstReadBytes);
                try
                {
                    int firstCount;
                    try
                    {
                        firstCount = await answer.ReadAsync(firstBytes, timeout.Token);
                    }
                    catch (Exception exception) when (exception is HttpRequestException or IOException or OperationCanceledException && !context.RequestAborted.IsCancellationRequested)
                    {
                        lastWasTimeout = exception is OperationCanceledException;
                        lastFailure = AttemptFailed(group, deployment, status, started, lastWasTimeout
                            ? $"deployment '{deployment.Name}' sent no answer within {_headersTimeout.TotalSeconds:0} s"
                            : $"deployment '{deployment.Name}' broke off before the first byte of its answer");
                        continue;
                    }

                    metrics.Attempt(group.Name, deployment.Name, response.IsSuccessStatusCode ? "success" : "refused", status, elapsed);
                    timeout.CancelAfter(Timeout.InfiniteTimeSpan);
                    ProxyResponse.CopyHeaders(response, context.Response);
                    context.Response.Headers[ProxyResponse.DeploymentHeader] = deployment.Name;
                    context.Response.Headers[ProxyResponse.UpstreamTimeHeader] = elapsed.TotalMilliseconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
                    try
                    {
                        await context.Response.Body.WriteAsync(firstBytes.AsMemory(0, firstCount), timeout.Token);
                        await answer.CopyToAsync(context.Response.BodyWriter, timeout.Token);
                    }
                    catch (Exception exception) when (exception is HttpRequestException or IOException && !context.RequestAborted.IsCancellationRequested)
                    {
                        // A clean end here would pass a cut answer off as complete; a broken one cannot be.
                        Log.StreamBroken(logger, deployment.Name, group.Name, exception);
                        context.Abort();
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(firstBytes);
                }
                return;
            }
        }

        Log.AllDeploymentsFailed(logger, group.Name, lastFailure);
        await OpenAIError.WriteAsync(
            context,
            lastWasTimeout ? StatusCodes.Status504GatewayTimeout : StatusCodes.Status502BadGateway,
            $"No deployment of model '{group.Name}' could answer: {lastFailure}.",
            OpenAIError.Upstream,
            lastWasTimeout ? "upstream_timeout" : "upstream_unavailable");
    }

    /// <summary>Records an attempt that got no usable answer; returns the failure for the client's error.</summary>
    private string AttemptFailed(ModelGroup group, Deployment deployment, int? statusCode, long started, string failure)
    {
        metrics.Attempt(group.Name, deployment.Name, "failed", statusCode, timeProvider.GetElapsedTime(started));
        Log.DeploymentFailed(logger, deployment.Name, group.Name, failure);
        return failure;
    }

    /// <summary>Statuses that say "not now, not here" rather than "your request is wrong".</summary>
    private static bool IsWorthAnotherDeployment(HttpStatusCode status) =>
        status is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout || (int)status >= 500;
}
