using System.ClientModel;
using System.ClientModel.Primitives;
using AgentPlatform.Contracts.Http;
using AgentPlatform.Contracts.Usage;
using AgentPlatform.ServiceDefaults.RequestIds;
using Microsoft.Extensions.AI;
using OpenAI;

namespace AgentPlatform.Api.Agents;

/// <summary>
/// The model pool as a <c>Microsoft.Extensions.AI</c> chat client: the official OpenAI SDK (through
/// <c>Microsoft.Extensions.AI.OpenAI</c>) pointed at the Router's own <c>/v1/chat/completions</c>, so every
/// step of a run is routed, retried, failed over and broken like any client's call. One per run: it
/// carries the run's request id to the Router and keeps what the Router says of each answer (the
/// deployment, its prices) for the step's record.
/// </summary>
internal static class PoolChatClient
{
    public static IChatClient Create(HttpClient router, string model, string requestId, string client, StepAnswer answer, TimeSpan timeout)
    {
        var options = new OpenAIClientOptions
        {
            Endpoint = new Uri(router.BaseAddress!, "v1/"),
            Transport = new HttpClientPipelineTransport(router),
            // The Router owns retries and failover; a second layer here would multiply calls to a struggling provider.
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            NetworkTimeout = timeout,
        };
        options.AddPolicy(new RouterHeaders(requestId, client, answer), PipelinePosition.PerCall);
        // The SDK insists on a credential; the router client's InternalKeyHandler puts the internal key in its place.
        return new OpenAIClient(new ApiKeyCredential("replaced-by-the-internal-key"), options).GetChatClient(model).AsIChatClient();
    }

    /// <summary>Sends the run's request id and client; reads the deployment and prices from the Router's answer.</summary>
    private sealed class RouterHeaders(string requestId, string client, StepAnswer answer) : PipelinePolicy
    {
        public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Set(RequestId.HeaderName, requestId);
            message.Request.Headers.Set(RouterRequestHeaders.Client, client);
            ProcessNext(message, pipeline, currentIndex);
            Read(message.Response);
        }

        public override async ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Set(RequestId.HeaderName, requestId);
            message.Request.Headers.Set(RouterRequestHeaders.Client, client);
            await ProcessNextAsync(message, pipeline, currentIndex);
            Read(message.Response);
        }

        private void Read(PipelineResponse? response)
        {
            if (response is null)
            {
                return;
            }
            answer.Deployment = response.Headers.TryGetValue(ProxyResponse.DeploymentHeader, out var deployment) ? deployment : null;
            answer.Prices = response.Headers.TryGetValue(ProxyResponse.PriceHeader, out var prices) && prices is not null ? Prices.Parse(prices) : null;
        }
    }
}

/// <summary>What the Router said of a step's answer, beside the answer itself.</summary>
internal sealed class StepAnswer
{
    public string? Deployment { get; set; }

    public Prices? Prices { get; set; }

    public void Clear() => (Deployment, Prices) = (null, null);
}
