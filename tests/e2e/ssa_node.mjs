// Server-side apply through @kubernetes/client-node (KubernetesObjectApi.patch
// with PatchStrategy.ServerSideApply): create, update, conflict and force.
// Usage: node ssa_node.mjs KUBECONFIG (NODE_PATH-free: imported by path from
// argv[3], the installed package directory). Exit 0 when all steps behaved.
const k8s = await import(process.argv[3]);
const kc = new k8s.KubeConfig();
kc.loadFromFile(process.argv[2]);
const client = k8s.KubernetesObjectApi.makeApiClient(kc);
const spec = (v) => ({apiVersion: 'v1', kind: 'ConfigMap',
	metadata: {name: 'node-ssa', namespace: 'default'}, data: {k: v}});
const SSA = k8s.PatchStrategy.ServerSideApply;
let o = await client.patch(spec('1'), undefined, undefined, 'node-a', false, SSA);
console.log('created', o.data.k);
o = await client.patch(spec('2'), undefined, undefined, 'node-a', false, SSA);
console.log('updated', o.data.k, o.metadata.managedFields[0].manager);
try {
	await client.patch(spec('3'), undefined, undefined, 'node-b', false, SSA);
	console.log('no conflict');
	process.exit(1);
} catch (e) {
	const body = typeof e.body === 'string' ? e.body : JSON.stringify(e.body);
	console.log('conflict', e.code, body.includes('conflict with \\"node-a\\"') || body.includes('conflict with "node-a"'));
	if (e.code !== 409) process.exit(1);
}
o = await client.patch(spec('3'), undefined, undefined, 'node-b', true, SSA);
console.log('forced', o.data.k);
