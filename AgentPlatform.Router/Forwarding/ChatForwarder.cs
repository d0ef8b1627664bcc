using System.Net;
using AgentPlatform.Router.Pool;
using AgentPlatform.ServiceDefaults.Http;
using AgentPlatform.ServiceDefaults.OpenAI;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Router.Forwarding;

/// <summary>
/// Sends a chat completion to a deployment of its model group and streams the answer back. The first
/// deployment is picked by weight; when it cannot answer (connection failure, timeout before headers,
/// 429 or 5xx) the next is tried, until one answers or all have failed. Once the answer has started,
/// it is never re-sent: a broken stream aborts the client's response instead.
/// </summary>
public sealed class ChatForwarder(
    UpstreamInvoker upstream,
    IOptions<RouterOptions> options,
    RouterMetrics metrics,
    TimeProvider timeProvider,
    Random random,
    ILogger<ChatForwarder> logger)
{

    private readonly TimeSpan _headersTimeout = TimeSpan.FromSeconds(options.Value.ResponseHeadersTimeoutSeconds);

    public async Task ForwardAsync(HttpContext context, ModelGroup group, ReadOnlyMemory<byte> body, Range modelToken)
    {
        var deployments = group.Deployments;
        var first = group.PickFirst(random.NextDouble());
        var lastFailure = "";
        var lastWasTimeout = false;

        for (var attempt = 0; attempt < deployments.Count; attempt++)
        {
            var deployment = deployments[(first + attempt) % deployments.Count];
            var isLastChance = attempt == deployments.Count - 1;

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
                lastFailure = lastWasTimeout
                    ? $"deployment '{deployment.Name}' sent no response within {_headersTimeout.TotalSeconds:0} s"
                    : $"deployment '{deployment.Name}' could not be reached ({(exception as HttpRequestException)?.HttpRequestError})";
                metrics.Attempt(group.Name, deployment.Name, "failed", null, timeProvider.GetElapsedTime(started));
                Log.DeploymentFailed(logger, deployment.Name, group.Name, lastFailure);
                continue;
            }

            using (response)
            {
                var elapsed = timeProvider.GetElapsedTime(started);
                var status = (int)response.StatusCode;
                if (IsWorthAnotherDeployment(response.StatusCode) && !isLastChance)
                {
                    lastWasTimeout = false;
                    lastFailure = $"deployment '{deployment.Name}' answered {status}";
                    metrics.Attempt(group.Name, deployment.Name, "refused", status, elapsed);
                    Log.DeploymentRefused(logger, deployment.Name, group.Name, response.StatusCode);
                    continue;
                }

                metrics.Attempt(group.Name, deployment.Name, response.IsSuccessStatusCode ? "success" : "refused", status, elapsed);
                // The answer has started: from here on the headers timeout no longer applies.
                timeout.CancelAfter(Timeout.InfiniteTimeSpan);
                ProxyResponse.CopyHeaders(response, context.Response);
                context.Response.Headers[ProxyResponse.DeploymentHeader] = deployment.Name;
                context.Response.Headers[ProxyResponse.UpstreamTimeHeader] = elapsed.TotalMilliseconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
                try
                {
                    await ProxyResponse.CopyBodyAsync(response, context.Response, timeout.Token);
                }
                catch (Exception exception) when (exception is HttpRequestException or IOException && !context.RequestAborted.IsCancellationRequested)
                {
                    Log.StreamBroken(logger, deployment.Name, group.Name, exception);
                    context.Abort();
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

    /// <summary>Statuses that say "not now, not here" rather than "your request is wrong".</summary>
    private static bool IsWorthAnotherDeployment(HttpStatusCode status) =>
        status is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout || (int)status >= 500;
}
